"""`kms-sandbox inspect`: explain an etcd value byte by byte, and decrypt it when possible.

Input is a file or stdin holding a raw value, hex, base64 or `etcdctl get -w json` output. With
`--dek-hex` (the DEK, seed or local key) or `--plugin unix:///...` (ask that KMS v2 plugin to
Decrypt the stored encryptedDEKSource, exactly as kube-apiserver would) plus the etcd key, the
payload is decrypted and the object described. Secret values stay masked unless `--show-values`;
keys and DEKs are never printed. Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.cli.errors import CliError

if TYPE_CHECKING:
    from sandbox.core.inspect import InspectReport

FORMATS = ("auto", "raw", "hex", "base64", "etcdctl-json")
MAX_INPUT = 64 * 1024 * 1024


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="explain (and decrypt) an etcd value: prefix, EncryptedObject, nonce, object",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="value file, or - for stdin (default)"
    )
    p.add_argument("--format", choices=FORMATS, default="auto", help="input encoding (default: auto-detect)")
    p.add_argument(
        "--etcd-key", help="the value's etcd key, e.g. /registry/secrets/default/s1 (the AES-GCM AAD)"
    )
    p.add_argument("--dek-hex", help="plaintext DEK, seed or local provider key, in hex")
    p.add_argument(
        "--plugin", metavar="ENDPOINT", help="KMS v2 plugin to unwrap the DEK/seed: unix:///path.sock"
    )
    p.add_argument("--timeout", type=float, default=3.0, help="plugin call deadline in seconds (default 3)")
    p.add_argument(
        "--show-values", action="store_true", help="print decrypted data values (masked by default)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document per value")
    p.add_argument(
        "--bytes", action="store_true", help="also print a byte map of a KMS v2 value (offsets, labels)"
    )
    p.set_defaults(func=run)


def _read_input(name: str) -> bytes:
    if name == "-":
        if sys.stdin.isatty():
            raise CliError(
                "no input: give a FILE or pipe an etcd value on stdin (raw, hex, base64 or etcdctl JSON)"
            )
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        path = Path(name)
        if not path.is_file():
            raise CliError(f"input file {name!r} does not exist or is not a file")
        try:
            data = path.read_bytes()[: MAX_INPUT + 1]
        except OSError as exc:
            raise CliError(f"cannot read {name!r}: {exc.strerror}") from None
    if len(data) > MAX_INPUT:
        raise CliError(f"input is larger than {MAX_INPUT // (1024 * 1024)} MiB; expected one etcd value")
    if not data:
        raise CliError("input is empty; expected an etcd value (raw, hex, base64 or etcdctl JSON)")
    return data


def _parse_dek(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        dek = bytes.fromhex(text.strip())
    except ValueError:
        raise CliError("--dek-hex is not valid hex; expected e.g. 32 bytes as 64 hex digits") from None
    if not dek:
        raise CliError("--dek-hex is empty; expected the DEK, seed or key in hex")
    return dek


def _unwrap_with_plugin(endpoint: str, timeout: float, value: bytes) -> bytes | None:
    """Ask the plugin to Decrypt the value's encryptedDEKSource, as the apiserver does on a cache miss."""
    import asyncio
    import uuid

    from sandbox.core.errors import SandboxError
    from sandbox.core.kmsv2_format import decode_value

    try:
        _, obj = decode_value(value)
    except SandboxError:
        return None  # not a v2 value: the inspector reports what it is

    async def call() -> bytes:
        from sandbox.kms.client import KmsV2Client

        async with KmsV2Client(endpoint, timeout=timeout) as client:
            return await client.decrypt(
                obj.encrypted_dek_source, str(uuid.uuid4()), obj.key_id, obj.annotations
            )

    try:
        from sandbox.kms.client import KmsRpcError
    except ImportError as exc:  # pragma: no cover - the plugin package ships with us
        raise CliError(f"the KMS client is unavailable: {exc}", 1) from None
    try:
        return asyncio.run(call())
    except KmsRpcError as exc:
        code = getattr(exc, "code", "")
        exit_code = 1 if code in ("DeadlineExceeded", "Unavailable") else 2
        raise CliError(f"plugin {endpoint} failed to decrypt the DEK: {exc}", exit_code) from None
    except (ValueError, SandboxError) as exc:
        raise CliError(f"bad --plugin endpoint {endpoint!r}: {exc}") from None
    except Exception as exc:  # endpoint parsing errors of the kms package, and the like
        raise CliError(f"bad --plugin endpoint {endpoint!r}: {exc}") from None


def _inspect_one(key: str | None, value: bytes, args: argparse.Namespace, dek: bytes | None) -> InspectReport:
    from sandbox.core.errors import DecodeError, SandboxError
    from sandbox.core.inspect import inspect_value

    etcd_key = args.etcd_key or key
    if dek is None and args.plugin:
        dek = _unwrap_with_plugin(args.plugin, args.timeout, value)
    if dek is not None and etcd_key is None:
        raise CliError("--etcd-key is required to decrypt: the full etcd key is the AES-GCM additional data")
    attempts = [value]
    if args.format in ("auto", "raw") and value.endswith(b"\n"):
        attempts.append(value[:-1])  # `etcdctl get --print-value-only` appends a newline
    failure: SandboxError | None = None
    for candidate in attempts:
        try:
            return inspect_value(candidate, etcd_key=etcd_key, dek_or_seed=dek)
        except SandboxError as exc:
            failure = failure or exc
    if isinstance(failure, DecodeError):
        raise CliError(f"cannot decode the value: {failure}")
    raise CliError(str(failure))


def run(args: argparse.Namespace) -> int:
    from sandbox.core.errors import DecodeError
    from sandbox.core.inspect import parse_input

    if args.timeout <= 0:
        raise CliError(f"--timeout must be positive, got {args.timeout}")
    dek = _parse_dek(args.dek_hex)
    data = _read_input(args.file)
    try:
        pairs = parse_input(data, args.format)
    except DecodeError as exc:
        raise CliError(f"cannot read the input as {args.format}: {exc}") from None
    reports = [_inspect_one(key, value, args, dek) for key, value in pairs]
    if args.json:
        for report in reports:
            print(json.dumps(report.to_json_dict(show_values=args.show_values), sort_keys=False))
        return 0
    from sandbox.cli.inspect_render import render_reports

    render_reports(reports, show_values=args.show_values)
    if args.bytes:
        from sandbox.cli.inspect_render import render_byte_maps

        render_byte_maps([value for _, value in pairs])
    return 0
