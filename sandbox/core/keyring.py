"""The bundled plugin's key-encryption keys (KEKs): wrap, unwrap, rotate, retire, serialise.

This stands for the *remote* KMS of a real plugin: the KEKs never leave it, the apiserver only
ever sees key ids and wrapped DEKs/seeds. Pure model, no file I/O (persistence lives in
`sandbox.kms.keystore`), so it can be property-tested and reused by the simulator.

Wrapping is AES-256-GCM with a fresh random 12-byte nonce and the key_id as associated data,
laid out `nonce(12) || ciphertext || tag(16)`: a 32-byte DEK/seed becomes 60 bytes, far below the
apiserver's 1024-byte limit. Binding the key_id means a wrapped key presented with another
key_id fails authentication instead of decrypting under the wrong KEK.

Key ids are public (the apiserver logs them and stores them in plaintext in etcd), so they carry
no key material: `kek-<serial>-<8 random hex>`. The serial only grows and retired ids are
remembered, so an id is never reused (the spec's "A -> B -> A must look like C" rule).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEK_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
WRAP_OVERHEAD = NONCE_BYTES + TAG_BYTES
MAX_PLAINTEXT_BYTES = 512
"""Largest DEK/seed we wrap. The apiserver sends 32 bytes; 512 keeps ciphertexts < 1 KiB."""
MAX_CIPHERTEXT_BYTES = 1024
"""The apiserver's limit on encryptedDEKSource (spec 3.3)."""
FORMAT_VERSION = 1

Entropy = Callable[[int], bytes]


class KeyringError(Exception):
    """Base for keyring failures; `code` is the gRPC code name a plugin should answer with."""

    code = "INTERNAL"


class UnknownKeyIdError(KeyringError):
    code = "NOT_FOUND"


class TamperedCiphertextError(KeyringError):
    code = "INVALID_ARGUMENT"


class BadInputError(KeyringError):
    code = "INVALID_ARGUMENT"


class RetireCurrentError(KeyringError):
    code = "FAILED_PRECONDITION"


@dataclass(frozen=True)
class Kek:
    """One key-encryption key. `key` is excluded from repr so it never lands in a log by accident."""

    key_id: str
    key: bytes = field(repr=False)
    created: float
    """Unix seconds."""


@dataclass
class Keyring:
    """All live KEKs, which one is current, and every id ever retired."""

    keks: dict[str, Kek]
    current_id: str
    serial: int
    """The serial number of the newest KEK; the next one gets serial + 1."""
    retired: list[str] = field(default_factory=list)

    # --- construction and lifecycle ----------------------------------------------------------

    @classmethod
    def new(cls, now: float, entropy: Entropy = os.urandom) -> Keyring:
        ring = cls(keks={}, current_id="", serial=0)
        ring.rotate(now, entropy)
        return ring

    def rotate(self, now: float, entropy: Entropy = os.urandom) -> Kek:
        """Adds a fresh KEK and makes it current at once; older KEKs stay for Decrypt."""
        self.serial += 1
        known = set(self.keks) | set(self.retired)
        while True:
            key_id = f"kek-{self.serial}-{entropy(4).hex()}"
            if key_id not in known:  # the serial alone already guarantees this; belt and braces
                break
        kek = Kek(key_id=key_id, key=entropy(KEK_BYTES), created=now)
        self.keks[key_id] = kek
        self.current_id = key_id
        return kek

    def retire(self, key_id: str) -> None:
        """Deletes a KEK for good: whatever it wrapped can never be unwrapped again."""
        if key_id == self.current_id:
            raise RetireCurrentError(f"refusing to retire the current KEK {key_id}; rotate first")
        if key_id not in self.keks:
            raise UnknownKeyIdError(f"no KEK with key_id {key_id!r} in the keyring")
        del self.keks[key_id]
        self.retired.append(key_id)

    @property
    def current(self) -> Kek:
        return self.keks[self.current_id]

    # --- crypto ------------------------------------------------------------------------------

    def wrap(self, plaintext: bytes, entropy: Entropy = os.urandom) -> tuple[bytes, str]:
        """Encrypts a DEK/seed under the current KEK. Returns (ciphertext, key_id)."""
        if not plaintext:
            raise BadInputError("plaintext is empty; expected 1 to 512 bytes (a 32-byte DEK or seed)")
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            raise BadInputError(
                f"plaintext is {len(plaintext)} bytes; expected at most {MAX_PLAINTEXT_BYTES} "
                "(the wrapped result must stay under the apiserver's 1024-byte limit)"
            )
        kek = self.current
        nonce = entropy(NONCE_BYTES)
        sealed = AESGCM(kek.key).encrypt(nonce, plaintext, kek.key_id.encode())
        return nonce + sealed, kek.key_id

    def unwrap(self, ciphertext: bytes, key_id: str) -> bytes:
        """Decrypts what `wrap` produced under `key_id`; refuses unknown ids and any tampering."""
        if not key_id:
            raise BadInputError("key_id is required")
        kek = self.keks.get(key_id)
        if kek is None:
            if key_id in self.retired:
                raise UnknownKeyIdError(f"key_id {key_id!r} was retired; data wrapped by it is lost")
            raise UnknownKeyIdError(f"unknown key_id {key_id!r}; this plugin never issued it")
        if not ciphertext:
            raise BadInputError("ciphertext is empty")
        if len(ciphertext) > MAX_CIPHERTEXT_BYTES:
            raise BadInputError(
                f"ciphertext is {len(ciphertext)} bytes; expected at most {MAX_CIPHERTEXT_BYTES}"
            )
        if len(ciphertext) < WRAP_OVERHEAD + 1:
            raise TamperedCiphertextError(
                f"ciphertext is {len(ciphertext)} bytes, shorter than the {WRAP_OVERHEAD + 1}-byte minimum"
            )
        try:
            return AESGCM(kek.key).decrypt(
                ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], key_id.encode()
            )
        except InvalidTag:
            raise TamperedCiphertextError(
                f"ciphertext failed authentication under key_id {key_id!r}"
            ) from None

    # --- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form. It contains the KEKs: the caller stores it with mode 0600."""
        return {
            "format": FORMAT_VERSION,
            "serial": self.serial,
            "current": self.current_id,
            "keks": [
                {"key_id": k.key_id, "key": base64.b64encode(k.key).decode(), "created": k.created}
                for k in self.keks.values()
            ],
            "retired": list(self.retired),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Keyring:
        """Inverse of `to_dict`; raises KeyringError naming what is wrong with a damaged file."""
        try:
            if data.get("format") != FORMAT_VERSION:
                raise KeyringError(f"unsupported keyring format {data.get('format')!r}; expected 1")
            keks: dict[str, Kek] = {}
            for item in data["keks"]:
                key = base64.b64decode(item["key"], validate=True)
                if len(key) != KEK_BYTES:
                    raise KeyringError(f"KEK {item['key_id']!r} is {len(key)} bytes; expected {KEK_BYTES}")
                keks[str(item["key_id"])] = Kek(str(item["key_id"]), key, float(item["created"]))
            ring = cls(
                keks=keks,
                current_id=str(data["current"]),
                serial=int(data["serial"]),
                retired=[str(r) for r in data.get("retired", [])],
            )
        except KeyringError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyringError(f"damaged keyring: {type(exc).__name__}: {exc}") from None
        if ring.current_id not in ring.keks:
            raise KeyringError(f"damaged keyring: current key_id {ring.current_id!r} has no KEK")
        return ring
