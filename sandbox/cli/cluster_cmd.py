"""`kms-sandbox cluster up|down|status|config`: a kind cluster wired to the bundled plugin.

`config` only renders (no Docker needed) so a facilitator can read what kind will get. `up`
checks prerequisites first, creates or reuses the cluster, verifies that the running apiserver
really has the encryption flags, and on Linux leaves a small plugin daemon running so the
cluster stays usable; `down` stops that daemon and deletes the cluster. Bad input and missing
tools exit 2 with one line; a failed cluster operation exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.cli.errors import CliError

if TYPE_CHECKING:
    from sandbox.backends.kind.render import ClusterSpec


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Adds `cluster` and its four actions."""
    cluster = subparsers.add_parser(
        "cluster",
        help="create, check and delete a kind cluster wired to the bundled KMS plugin",
        description="A kind cluster whose apiservers encrypt Secrets and ConfigMaps with the bundled plugin.",
    )
    actions = cluster.add_subparsers(dest="cluster_action", metavar="ACTION", required=True)
    helps = {
        "up": "create the cluster (or check and reuse it) and start its plugins",
        "down": "stop the plugins and delete the cluster",
        "status": "show whether the cluster exists, is wired correctly and has its plugins",
        "config": "print the rendered kind config (no Docker needed)",
    }
    for action, text in helps.items():
        parser = actions.add_parser(action, help=text, description=text)
        _common_options(parser)
        parser.set_defaults(func=globals()[f"run_{action}"])
        if action == "status":
            parser.add_argument("--json", action="store_true", help="print the status as JSON")
        if action == "down":
            parser.add_argument(
                "--purge", action="store_true", help="also delete the state directory (plugin keys, configs)"
            )
        if action == "up":
            parser.add_argument(
                "--retain", action="store_true", help="keep a cluster whose creation failed, for debugging"
            )


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name",
        default="",
        help="cluster name (default kms-sandbox, or kms-sandbox-ha with 3 control planes)",
    )
    parser.add_argument("--node-image", default="", help="kindest/node image, e.g. kindest/node:v1.35.8")
    parser.add_argument(
        "--kube-version", default="", help="Kubernetes minor or release, e.g. 1.34 (default 1.37)"
    )
    parser.add_argument(
        "--control-planes", type=int, default=1, help="1, or 3 for HA (one plugin per apiserver)"
    )
    parser.add_argument("--plugin-api", default="v2", choices=("v2", "v1"), help="KMS API the plugin serves")
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="host directory for sockets, keys and configs"
    )
    parser.add_argument(
        "--plugin-in-node",
        action="store_true",
        help="run the plugin inside the nodes (automatic on Docker Desktop, macOS and Windows)",
    )
    parser.add_argument("--container-cli", default="docker", choices=("docker", "podman"))


def build_spec(args: argparse.Namespace, in_node: bool | None = None) -> ClusterSpec:
    """The cluster the arguments describe; bad values raise CliError (exit 2)."""
    from sandbox.backends.kind.images import ImageError, resolve_node_image
    from sandbox.backends.kind.render import (
        ClusterSpec,
        PluginPlacement,
        RenderError,
        default_cluster_name,
        default_state_dir,
    )

    if args.control_planes not in (1, 3):
        raise CliError(f"--control-planes must be 1 or 3, got {args.control_planes}")
    name = args.name or default_cluster_name(args.control_planes)

    in_node = bool(args.plugin_in_node or in_node or platform.system() != "Linux")
    placement: PluginPlacement = "node" if in_node else "host"
    try:
        image = resolve_node_image(args.kube_version, args.node_image)
        return ClusterSpec(
            name=name,
            image=image,
            state_dir=(args.state_dir or default_state_dir(name)).expanduser().absolute(),
            control_planes=args.control_planes,
            placement=placement,
            plugin_api=args.plugin_api,
        )
    except (ImageError, RenderError) as exc:
        raise CliError(str(exc)) from None


def _progress(message: str) -> None:
    print(f"kms-sandbox: {message}", file=sys.stderr, flush=True)


def run_config(args: argparse.Namespace) -> int:
    from sandbox.backends.kind.render import render_kind_config

    sys.stdout.write(render_kind_config(build_spec(args)))
    return 0


def run_up(args: argparse.Namespace) -> int:
    return asyncio.run(_up(args))


async def _up(args: argparse.Namespace) -> int:
    from sandbox.backends.kind import plugins
    from sandbox.backends.kind.commands import CommandError, CommandRunner
    from sandbox.backends.kind.lifecycle import ClusterError, ClusterManager
    from sandbox.backends.kind.prereqs import PrerequisiteError, check_prerequisites

    runner = CommandRunner(docker=args.container_cli)
    spec = build_spec(args)
    try:
        prereqs = await check_prerequisites(runner, spec.image, args.container_cli)
    except PrerequisiteError as exc:
        raise CliError(str(exc)) from None
    spec = build_spec(args, in_node=prereqs.placement == "node")
    _progress(prereqs.summary())
    manager = ClusterManager(spec, runner, _progress)

    async def ensure_plugins() -> None:
        if spec.placement == "host":
            pid = plugins.start_daemon(spec)
            _progress(f"plugin daemon {pid} serves {spec.control_planes} plugin(s) under {spec.state_dir}")

    existed = False
    try:
        existed = await manager.exists()
        await manager.up(ensure_plugins)
    except (ClusterError, CommandError, plugins.PluginStartError, OSError) as exc:
        await _cleanup_failed(manager, spec, existed, args.retain)
        raise CliError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 1) from None
    except BaseException:
        await _cleanup_failed(manager, spec, existed, args.retain)
        raise
    print(f"cluster {spec.name} is up: kubectl --context {spec.kube_context} get secrets -A")
    print(f"kubeconfig: {spec.host_kubeconfig}")
    return 0


async def _cleanup_failed(manager: Any, spec: ClusterSpec, existed: bool, retain: bool) -> None:
    """A half-made cluster and its plugins must not linger (unless --retain asks for them)."""
    from sandbox.backends.kind import plugins

    if existed or retain:
        return
    await plugins.stop_daemon(spec)
    try:
        if await manager.exists():
            await manager.delete()
    except Exception as exc:  # best effort: report the original failure, not this one
        _progress(f"could not delete the half-made cluster: {exc}")


def run_down(args: argparse.Namespace) -> int:
    return asyncio.run(_down(args))


async def _down(args: argparse.Namespace) -> int:
    from sandbox.backends.kind import plugins
    from sandbox.backends.kind.commands import CommandError, CommandRunner
    from sandbox.backends.kind.lifecycle import ClusterManager

    spec = build_spec(args)
    stopped = await plugins.stop_daemon(spec)
    if stopped:
        _progress("stopped the plugin daemon")
    runner = CommandRunner(docker=args.container_cli)
    if not runner.which("kind"):
        raise CliError("kind is not on PATH: install kind to delete the cluster", 2)
    manager = ClusterManager(spec, runner, _progress)
    try:
        if await manager.exists():
            await manager.delete()
            print(f"cluster {spec.name} deleted")
        else:
            print(f"cluster {spec.name} does not exist")
    except CommandError as exc:
        raise CliError(str(exc), 1) from None
    if args.purge and spec.state_dir.exists():
        import shutil

        shutil.rmtree(spec.state_dir)
        print(f"removed {spec.state_dir}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    return asyncio.run(_status(args))


async def _status(args: argparse.Namespace) -> int:
    from sandbox.backends.kind import plugins
    from sandbox.backends.kind.commands import CommandError, CommandRunner
    from sandbox.backends.kind.lifecycle import ClusterManager, describe, status_json

    spec = build_spec(args)
    runner = CommandRunner(docker=args.container_cli)
    if not runner.which("kind"):
        raise CliError("kind is not on PATH: install kind v0.33.0 (https://kind.sigs.k8s.io)", 2)
    manager = ClusterManager(spec, runner)

    def alive(index: int) -> bool:
        return plugins.control_answers(spec.host_control_socket(index))

    try:
        status = await manager.status(alive if spec.placement == "host" else None)
    except CommandError as exc:
        raise CliError(str(exc), 1) from None
    print(status_json(status) if args.json else describe(status))
    return 0 if status.wired or not status.exists else 1
