"""`kms-sandbox plugin ...`: run the bundled KMS plugin and drive it over its control socket.

`serve` runs the plugin in the foreground. Every other subcommand is a one-shot call on the
control socket (`--control`, default $KMS_SANDBOX_CONTROL or the default serve location) and
fails with one line and exit code 2 when no plugin answers there.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sandbox.cli.errors import CliError

if TYPE_CHECKING:
    from sandbox.kms.control_client import PluginControlClient
    from sandbox.kms.model import PluginStateView

T = TypeVar("T")
API_CHOICES = ("v2", "v2beta1", "v2alpha1", "v1")


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kms-sandbox" / "plugin"


def _non_negative(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative; expected 0 or more")
        return value

    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a process id; expected a number above 0")
    return value


def _probability(text: str) -> float:
    value = float(_non_negative(float)(text))
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is above 1; expected a probability in 0..1")
    return value


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    from sandbox.kms.endpoint import default_control_url, default_kms_endpoint

    plugin = subparsers.add_parser("plugin", help="run and control the bundled KMS v2 plugin")
    sub = plugin.add_subparsers(dest="plugin_command", metavar="SUBCOMMAND")
    plugin.set_defaults(func=lambda args: _usage(plugin))

    serve = sub.add_parser("serve", help="serve the KMS API on a Unix socket (foreground)")
    serve.add_argument(
        "--listen", default=default_kms_endpoint().url, help="unix:///path/kms.sock or unix:///@name"
    )
    serve.add_argument("--state-dir", type=Path, default=_default_state_dir(), help="where the keyring lives")
    serve.add_argument("--api", choices=API_CHOICES, default="v2", help="KMS API flavour (default v2)")
    serve.add_argument("--control", help="control socket (default: <name>.control.sock next to --listen)")
    serve.add_argument("--log-format", choices=("text", "json"), default="text")
    serve.add_argument(
        "--log-level", choices=("debug", "info", "warning"), default="info", help="info logs every KMS call"
    )
    serve.add_argument(
        "--metrics-port", type=_non_negative(int), help="serve Prometheus metrics on 127.0.0.1:N"
    )
    serve.add_argument(
        "--exit-with-parent",
        type=_positive_int,
        metavar="PID",
        help="stop gracefully when process PID exits (launchers pass their own pid)",
    )
    # The old spelling, still accepted so an older launcher keeps working.
    serve.add_argument("--parent-pid", type=_positive_int, dest="exit_with_parent", help=argparse.SUPPRESS)
    serve.set_defaults(func=_serve)

    def control_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument("--control", default=default_control_url(), help="plugin control socket URL")
        return p

    status = control_parser("status", "show keys, health, outage, faults and call counters")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)
    control_parser("rotate", "make a new KEK current now (old KEKs still decrypt)").set_defaults(func=_rotate)
    retire = control_parser("retire", "delete a KEK for good (data it wrapped is lost)")
    retire.add_argument("key_id")
    retire.set_defaults(func=_retire)

    health = control_parser("health", "make Status report an unhealthy or malformed answer")
    group = health.add_mutually_exclusive_group()
    group.add_argument("--healthz", help="healthz text to report instead of ok")
    group.add_argument("--ok", action="store_true", help="report healthz ok and the real key_id again")
    health.add_argument("--key-id", default="real", help="empty | too-long | real | custom:ID")
    health.add_argument("--version", default="", help="version string to report (default: the API's)")
    health.set_defaults(func=_health)

    outage = control_parser("outage", "stop answering KMS calls (UNAVAILABLE, or --hang)")
    outage.add_argument("--hang", action="store_true", help="accept calls and never answer")
    outage.set_defaults(func=_outage)
    control_parser("restore", "end an outage").set_defaults(func=_restore)

    fault = control_parser("fault", "inject a fault into one KMS method")
    fault.add_argument("method", help="Status | Encrypt | Decrypt | Version | *")
    fault.add_argument("--latency-ms", type=_non_negative(float), default=0.0)
    fault.add_argument("--code", default="", help="gRPC code to fail with, e.g. INTERNAL or Unavailable")
    fault.add_argument("--message", default="", help="error message the caller sees")
    fault.add_argument(
        "--count", type=_non_negative(int), default=0, help="next N calls only (0 = until cleared)"
    )
    fault.add_argument("--probability", type=_probability, default=0.0, help="chance per call (0 = always)")
    fault.set_defaults(func=_fault)
    faults = control_parser("faults", "manage injected faults")
    faults.add_argument("action", choices=("clear",))
    faults.set_defaults(func=_faults_clear)

    latency = control_parser("latency", "remote-KMS cost model: latency per Encrypt/Decrypt")
    latency.add_argument("--encrypt-ms", type=_non_negative(float), required=True)
    latency.add_argument("--decrypt-ms", type=_non_negative(float), required=True)
    latency.set_defaults(func=_latency)
    control_parser("reset-counters", "zero the call counters").set_defaults(func=_reset_counters)
    annotations = sub.add_parser("annotations", help="make Encrypt return extra or replaced annotations")
    ann_sub = annotations.add_subparsers(dest="annotations_command", metavar="ACTION")
    annotations.set_defaults(func=lambda args: _usage(annotations))
    ann_set = ann_sub.add_parser("set", help="Encrypt returns these annotations (ENV-4 lessons)")
    ann_set.add_argument("pairs", nargs="+", metavar="KEY=VALUE", help="e.g. http://foo.example.com=1")
    ann_set.add_argument(
        "--replace", action="store_true", help="return only these, not the plugin's own annotation"
    )
    ann_set.add_argument(
        "--pad-to", type=_non_negative(int), default=0, metavar="N", help="pad each value with 'x' to N bytes"
    )
    ann_set.set_defaults(func=_annotations_set)
    ann_clear = ann_sub.add_parser("clear", help="Encrypt returns only the plugin's own annotation")
    ann_clear.set_defaults(func=_annotations_clear)
    for p in (ann_set, ann_clear):
        p.add_argument("--control", default=default_control_url(), help="plugin control socket URL")

    lag = control_parser("lag", "stop (on) or resume (off) following the keyring shared with other replicas")
    lag.add_argument("state", choices=("on", "off"), help="on: keep serving the old keyring")
    lag.set_defaults(func=_lag)

    events = control_parser("events", "print recent KMS calls and control changes")
    events.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument("--replay", type=_non_negative(int), default=100, help="recent events to show first")
    events.set_defaults(func=_events)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# --- serve -----------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from sandbox.kms.logs import configure_logging, skip_unused_record_fields
    from sandbox.kms.server import ServeConfig, ServeError, serve

    skip_unused_record_fields()
    configure_logging(args.log_format, level=getattr(logging, args.log_level.upper()))
    config = ServeConfig(
        listen=args.listen,
        state_dir=args.state_dir,
        api=args.api,
        control=args.control,
        metrics_port=args.metrics_port,
        exit_with_parent=args.exit_with_parent,
    )
    try:
        asyncio.run(serve(config))
    except ServeError as exc:
        raise CliError(str(exc), 2) from None
    return 0


# --- control commands ------------------------------------------------------------------------


def _with_client(args: argparse.Namespace, action: Callable[[PluginControlClient], Awaitable[T]]) -> T:
    import asyncio

    from sandbox.kms.client import KmsRpcError
    from sandbox.kms.control_client import PluginControlClient
    from sandbox.kms.endpoint import EndpointError, parse_endpoint

    try:
        endpoint = parse_endpoint(args.control)
    except EndpointError as exc:
        raise CliError(f"bad --control {args.control!r}: {exc}") from None
    if not endpoint.abstract and not Path(endpoint.path).exists():
        raise CliError(
            f"no plugin control socket at {endpoint.path}; start one with `kms-sandbox plugin serve` "
            "or pass --control unix:///path/to/<name>.control.sock"
        )

    async def run() -> T:
        async with PluginControlClient(args.control) as client:
            return await action(client)

    try:
        return asyncio.run(run())
    except KmsRpcError as exc:
        if exc.code in ("Unavailable", "DeadlineExceeded"):
            raise CliError(f"no plugin answers on {args.control} ({exc})") from None
        raise CliError(exc.desc or str(exc)) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _status(args: argparse.Namespace) -> int:
    from sandbox.cli import plugin_format

    state = _with_client(args, lambda c: c.get_state())
    print(plugin_format.state_json(state) if args.json else plugin_format.state_text(state))
    return 0


def _rotate(args: argparse.Namespace) -> int:
    key_id = _with_client(args, lambda c: c.rotate())
    print(f"rotated: current key_id is now {key_id}")
    return 0


def _retire(args: argparse.Namespace) -> int:
    _with_client(args, lambda c: c.retire(args.key_id))
    print(f"retired {args.key_id}: data wrapped by it can no longer be decrypted")
    return 0


def _health(args: argparse.Namespace) -> int:
    mode, custom = args.key_id, ""
    if mode.startswith("custom:"):
        mode, custom = "custom", mode[len("custom:") :]
        if not custom:
            raise CliError("--key-id custom: needs an id after the colon, e.g. custom:kek-forged")
    elif mode not in ("real", "empty", "too-long"):
        raise CliError(f"bad --key-id {args.key_id!r}; expected empty, too-long, real or custom:ID")
    healthz = "ok" if args.ok or args.healthz is None else args.healthz
    version = "" if args.ok else args.version
    if args.ok:
        mode, custom = "real", ""
    state = _with_client(args, lambda c: c.set_health(healthz, mode, custom, version))
    shown = f"custom:{custom}" if custom else state.health.key_id_mode
    version = state.health.version or "(api default)"
    print(f"Status now reports healthz={state.health.healthz!r} key_id={shown} version={version}")
    return 0


def _outage(args: argparse.Namespace) -> int:
    mode = "hang" if args.hang else "unavailable"
    _with_client(args, lambda c: c.set_outage(mode))
    print(f"outage: {mode} (undo with `kms-sandbox plugin restore`)")
    return 0


def _restore(args: argparse.Namespace) -> int:
    _with_client(args, lambda c: c.set_outage("none"))
    print("restored: the plugin answers KMS calls again")
    return 0


def _fault(args: argparse.Namespace) -> int:
    state: PluginStateView = _with_client(
        args,
        lambda c: c.add_fault(
            args.method,
            latency_ms=args.latency_ms,
            code=args.code,
            message=args.message,
            count=args.count,
            probability=args.probability,
        ),
    )
    fault = state.faults[-1]
    print(
        f"added {fault.id}: {fault.method} latency={fault.latency_ms}ms code={fault.code or '-'}"
        f" count={fault.count or 'until cleared'} probability={fault.probability or 'always'}"
    )
    return 0


def _faults_clear(args: argparse.Namespace) -> int:
    _with_client(args, lambda c: c.clear_faults())
    print("faults cleared")
    return 0


def _latency(args: argparse.Namespace) -> int:
    _with_client(args, lambda c: c.set_remote_latency(args.encrypt_ms, args.decrypt_ms))
    print(f"remote KMS latency: Encrypt {args.encrypt_ms} ms, Decrypt {args.decrypt_ms} ms")
    return 0


def _reset_counters(args: argparse.Namespace) -> int:
    _with_client(args, lambda c: c.reset_counters())
    print("counters reset")
    return 0


def _annotation_pairs(pairs: list[str], pad_to: int) -> dict[str, bytes]:
    extra: dict[str, bytes] = {}
    for pair in pairs:
        key, sep, value = pair.rpartition("=")  # keys may hold '=' (URLs); values rarely do
        if not sep or not key:
            raise CliError(f"bad annotation {pair!r}; expected KEY=VALUE, e.g. http://foo.example.com=1")
        if key in extra:
            raise CliError(f"annotation {key!r} is given twice; expected each KEY once")
        data = value.encode()
        extra[key] = data + b"x" * max(0, pad_to - len(data))
    return extra


def _annotations_set(args: argparse.Namespace) -> int:
    from sandbox.cli import plugin_format

    extra = _annotation_pairs(args.pairs, args.pad_to)
    state = _with_client(args, lambda c: c.set_annotations(extra, replace=args.replace))
    print("Encrypt now returns annotations: " + plugin_format.annotations_text(state.annotations))
    return 0


def _annotations_clear(args: argparse.Namespace) -> int:
    _with_client(args, lambda c: c.clear_annotations())
    print("Encrypt returns only the plugin's own annotation again")
    return 0


def _lag(args: argparse.Namespace) -> int:
    paused = args.state == "on"
    state = _with_client(args, lambda c: c.set_keyring_sync(paused))
    if paused:
        print(f"lagging: this instance keeps key_id {state.current_key_id} and ignores keyring changes")
    else:
        print(f"following the shared keyring again: current key_id is {state.current_key_id}")
    return 0


def _events(args: argparse.Namespace) -> int:
    import sys

    from sandbox.cli import plugin_format

    async def stream(client: PluginControlClient) -> None:
        async for event in client.watch_events(args.replay, follow=args.follow):
            print(plugin_format.event_line(event, as_json=args.json), flush=True)

    try:
        _with_client(args, stream)
    except BrokenPipeError:
        sys.stderr.close()  # `events | head` is fine
    return 0
