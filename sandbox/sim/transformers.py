"""The apiserver's value transformers: the prefix chain and the simple providers (spec 4.7).

A resource's providers form a `PrefixChain`. Writes always use the first provider and prepend its
prefix. Reads try the providers in config order; the first whose prefix matches strips it and
decodes, and an error from a matching provider does not stop later matches (two aescbc entries
share `k8s:enc:aescbc:v1:`). Identity has an empty prefix, writes raw bytes, refuses anything that
starts with `k8s:enc:`, and lookup then continues. A read through any provider but the first is
*stale*, which makes storage migration rewrite it. No match: `no matching prefix found`.

Transformers are async because the KMS ones may call the plugin; everything else is local.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.core.validation import aggregate

ENCRYPTED_PREFIX = b"k8s:enc:"
NO_MATCH = "no matching prefix found"
IDENTITY_REFUSES = "identity transformer tried to read encrypted data"


class TransformError(Exception):
    """A transformation failed; `str()` is upstream's text, `code` the metrics `status` label."""

    def __init__(self, message: str, code: str = "unknown-non-grpc") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a read produced, and what the lessons show about how."""

    plaintext: bytes
    stale: bool = False
    prefix: str = ""
    """The matching transformer's prefix ("" for identity)."""
    provider: str = ""
    key_id: str = ""
    dek_cache_hit: bool | None = None
    dek_source_type: str = ""


@dataclass(frozen=True, slots=True)
class WriteResult:
    value: bytes
    prefix: str = ""
    provider: str = ""
    key_id: str = ""
    dek_source_type: str = ""


class Transformer(abc.ABC):
    """One provider (or one key of a local provider) below its prefix."""

    provider: str = ""

    @abc.abstractmethod
    async def read(self, data: bytes, aad: bytes) -> ReadResult:
        """Decodes `data` (prefix already stripped); `aad` is the etcd key."""

    @abc.abstractmethod
    async def write(self, plaintext: bytes, aad: bytes) -> WriteResult:
        """Encodes `plaintext` (the chain prepends the prefix)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Releases connections and timers (old transformers after a reload, on restart)."""


class IdentityTransformer(Transformer):
    provider = "identity"

    async def read(self, data: bytes, aad: bytes) -> ReadResult:
        if data.startswith(ENCRYPTED_PREFIX):
            raise TransformError(IDENTITY_REFUSES)
        return ReadResult(plaintext=data, provider="identity")

    async def write(self, plaintext: bytes, aad: bytes) -> WriteResult:
        return WriteResult(value=plaintext, provider="identity")


class SyncTransformer(Transformer):
    """Adapts a local (non-KMS) provider given as two plain functions."""

    def __init__(
        self,
        provider: str,
        encrypt: Callable[[bytes, bytes], bytes],
        decrypt: Callable[[bytes, bytes], bytes],
    ) -> None:
        self.provider = provider
        self._encrypt = encrypt
        self._decrypt = decrypt

    async def read(self, data: bytes, aad: bytes) -> ReadResult:
        try:
            return ReadResult(plaintext=self._decrypt(data, aad), provider=self.provider)
        except Exception as exc:
            raise TransformError(str(exc)) from None

    async def write(self, plaintext: bytes, aad: bytes) -> WriteResult:
        try:
            return WriteResult(value=self._encrypt(plaintext, aad), provider=self.provider)
        except Exception as exc:
            raise TransformError(str(exc)) from None


@dataclass(frozen=True)
class PrefixEntry:
    prefix: bytes
    transformer: Transformer


Recorder = Callable[[str, str, str], None]
"""(transformation_type, transformer_prefix label, status) -> None: the storage metrics hook."""


def _prefix_label(prefix: bytes) -> str:
    return prefix.decode() if prefix else "identity"


class PrefixChain:
    """The provider list of one resource rule."""

    def __init__(self, entries: Sequence[PrefixEntry], recorder: Recorder | None = None) -> None:
        if not entries:
            raise ValueError("a prefix chain needs at least one provider")
        self.entries = tuple(entries)
        self._record = recorder or (lambda kind, prefix, status: None)

    @property
    def first(self) -> PrefixEntry:
        return self.entries[0]

    async def read(self, data: bytes, aad: bytes) -> ReadResult:
        errors: list[TransformError] = []
        for index, entry in enumerate(self.entries):
            if not data.startswith(entry.prefix):
                continue
            try:
                result = await entry.transformer.read(data[len(entry.prefix) :], aad)
            except TransformError as exc:
                if not entry.prefix:
                    continue  # identity refused encrypted data: keep looking
                self._record("from_storage", _prefix_label(entry.prefix), exc.code)
                errors.append(exc)
                continue
            self._record("from_storage", _prefix_label(entry.prefix), "OK")
            return ReadResult(
                plaintext=result.plaintext,
                stale=result.stale or index != 0,
                prefix=entry.prefix.decode(errors="replace"),
                provider=result.provider,
                key_id=result.key_id,
                dek_cache_hit=result.dek_cache_hit,
                dek_source_type=result.dek_source_type,
            )
        if errors:
            if len(errors) == 1:
                raise errors[0]
            raise TransformError(aggregate(str(e) for e in errors), errors[0].code)
        self._record("from_storage", "unknown", "unknown-non-grpc")
        raise TransformError(NO_MATCH)

    async def write(self, plaintext: bytes, aad: bytes) -> WriteResult:
        entry = self.first
        try:
            result = await entry.transformer.write(plaintext, aad)
        except TransformError as exc:
            self._record("to_storage", _prefix_label(entry.prefix), exc.code)
            raise
        self._record("to_storage", _prefix_label(entry.prefix), "OK")
        return WriteResult(
            value=entry.prefix + result.value,
            prefix=entry.prefix.decode(errors="replace"),
            provider=result.provider,
            key_id=result.key_id,
            dek_source_type=result.dek_source_type,
        )

    async def close(self) -> None:
        for entry in self.entries:
            await entry.transformer.close()
