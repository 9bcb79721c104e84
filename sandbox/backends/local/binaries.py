"""Find or build the real `kube-apiserver` and `etcd` binaries the local backend runs.

Why build from source: the point of the local backend is to watch the *real* apiserver's KMS v2
code path, at a known release, without Docker. Kubernetes publishes no Go-installable
kube-apiserver (its go.mod replaces the staging modules with `./staging/...` at v0.0.0, so
`go install k8s.io/kubernetes/cmd/kube-apiserver@vX` is refused), so we write a throwaway
"wrapper" module that requires `k8s.io/kubernetes vX.Y.Z` and replaces each staging module with
its published twin `k8s.io/<name> v0.Y.Z`. etcd is built the same way from
`go.etcd.io/etcd/server/v3` at the version that Kubernetes release pins in
`build/dependencies.yaml`.

Binaries live in `$XDG_CACHE_HOME/kms-sandbox/bin/<release>/` (default `~/.cache/...`), one
directory per Kubernetes release, published with a single `rename` so a half-finished build is
never picked up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sandbox.core.versions import NEWEST_KUBE_VERSION

DEFAULT_KUBE_VERSION: Final = f"v{NEWEST_KUBE_VERSION}"
"""Newest stable k8s.io/kubernetes on the Go module proxy when this was pinned (see docs/local-backend.md)."""

KUBE_MODULE: Final = "k8s.io/kubernetes"
APISERVER_PACKAGE: Final = "k8s.io/kubernetes/cmd/kube-apiserver"
ETCD_MODULE: Final = "go.etcd.io/etcd/server/v3"
ETCD_PACKAGE: Final = "go.etcd.io/etcd/server/v3"
"""etcd's `main` lives at the root of the server module (server/main.go)."""

APISERVER_NAME: Final = "kube-apiserver"
ETCD_NAME: Final = "etcd"
BUILD_INFO_NAME: Final = "build-info.json"

_STABLE_KUBE = re.compile(r"^v?1\.(\d+)\.(\d+)$")
_GO_INSTALL_HINT: Final = (
    "install Go 1.26 or newer (https://go.dev/dl/, or `apt-get install golang-go` if your distribution's "
    "version is new enough) and re-run, or pass --bin-dir / set KUBEBUILDER_ASSETS to a directory "
    "holding prebuilt `etcd` and `kube-apiserver`"
)

Progress = Callable[[str], None]


class SetupError(Exception):
    """Binaries cannot be found or built; the message says what the user should do."""


@dataclass(frozen=True)
class Binaries:
    """Paths of one usable etcd + kube-apiserver pair."""

    kube_apiserver: Path
    etcd: Path
    source: str
    """Where they were found: `bin-dir`, `KUBEBUILDER_ASSETS`, `cache` or `built`."""


# --- versions --------------------------------------------------------------------------------


def normalize_kube_version(version: str) -> str:
    """Return `vX.Y.Z` for `X.Y.Z` or `vX.Y.Z`; only stable 1.x releases can be built this way."""
    match = _STABLE_KUBE.match(version.strip())
    if match is None:
        raise SetupError(f"invalid Kubernetes version {version!r}: expected a stable release like v1.37.2")
    return f"v1.{match.group(1)}.{match.group(2)}"


def staging_version(kube_version: str) -> str:
    """Staging modules are published as v0.Y.Z for Kubernetes v1.Y.Z."""
    return "v0." + normalize_kube_version(kube_version).split(".", 1)[1]


def _go_proxy_url() -> str:
    """First HTTP(S) entry of $GOPROXY, so mirrors configured for Go are honoured here too."""
    for entry in re.split(r"[,|]", os.environ.get("GOPROXY", "")):
        if entry.startswith(("https://", "http://")):
            return entry.rstrip("/")
    return "https://proxy.golang.org"


def resolve_latest_kube_version(timeout: float = 15.0) -> str:
    """Ask the Go module proxy for the newest stable k8s.io/kubernetes release (needs network).

    Used by `setup local --kube-version latest`; everything else uses the pinned default so
    results are reproducible.
    """
    url = f"{_go_proxy_url()}/{KUBE_MODULE}/@v/list"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            listing = response.read().decode()
    except OSError as exc:
        raise SetupError(f"cannot list Kubernetes releases from {url}: {exc}") from exc
    stable = [m for m in (_STABLE_KUBE.match(line.strip()) for line in listing.splitlines()) if m]
    if not stable:
        raise SetupError(f"no stable Kubernetes release listed at {url}")
    best = max(stable, key=lambda m: (int(m.group(1)), int(m.group(2))))
    return f"v1.{best.group(1)}.{best.group(2)}"


# --- finding ---------------------------------------------------------------------------------


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/kms-sandbox`, defaulting to `~/.cache/kms-sandbox` (XDG base dir spec)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kms-sandbox"


def cache_bin_dir(kube_version: str) -> Path:
    """One directory per release, so switching releases never rebuilds the other one."""
    return cache_root() / "bin" / normalize_kube_version(kube_version)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _binaries_in(directory: Path, source: str) -> Binaries | None:
    apiserver, etcd = directory / APISERVER_NAME, directory / ETCD_NAME
    if _is_executable(apiserver) and _is_executable(etcd):
        return Binaries(kube_apiserver=apiserver, etcd=etcd, source=source)
    return None


def apiserver_version(kube_apiserver: Path) -> str | None:
    """`vX.Y.Z` reported by `kube-apiserver --version` ("Kubernetes vX.Y.Z"), or None if unreadable."""
    try:
        done = subprocess.run(
            [str(kube_apiserver), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Kubernetes (v\S+)", done.stdout)
    return match.group(1) if match else None


def find_binaries(kube_version: str, bin_dir: Path | None = None) -> Binaries | None:
    """Look in `bin_dir`, then `$KUBEBUILDER_ASSETS`, then the per-release cache.

    An explicit `bin_dir` is trusted as is (the user chose it). `$KUBEBUILDER_ASSETS` is often set
    globally for other projects, so it is used only when its apiserver reports the requested
    release: the apiserver's version changes KMS behaviour, and a silent mismatch would mislead.
    """
    wanted = normalize_kube_version(kube_version)
    if bin_dir is not None and (found := _binaries_in(bin_dir, "bin-dir")):
        return found
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    found = _binaries_in(Path(assets), "KUBEBUILDER_ASSETS") if assets else None
    if found is not None and apiserver_version(found.kube_apiserver) == wanted:
        return found
    return _binaries_in(cache_bin_dir(wanted), "cache")


# --- building --------------------------------------------------------------------------------


def _go_binary() -> str:
    go = shutil.which("go")
    if go is None:
        raise SetupError(f"the Go toolchain (`go`) is not on PATH: {_GO_INSTALL_HINT}")
    return go


def _go_env() -> dict[str, str]:
    """Environment for every `go` call: module mode, no workspace, static, reproducible paths.

    GOFLAGS is replaced, not extended: a user's `-mod=vendor` would break the wrapper module.
    """
    env = dict(os.environ)
    env.update(
        GO111MODULE="on",
        GOWORK="off",
        CGO_ENABLED="0",
        GOFLAGS="-trimpath -buildvcs=false -mod=mod",
    )
    return env


def _run_go(args: list[str], cwd: Path, what: str) -> str:
    """Run a short `go` command and return stdout; failures become SetupError with go's output."""
    done = subprocess.run(
        [_go_binary(), *args], cwd=cwd, env=_go_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise SetupError(f"{what} failed (go {' '.join(args)}):\n{tail}")
    return done.stdout


@dataclass(frozen=True)
class _Module:
    """One downloaded module, as reported by `go mod download -json`."""

    path: str
    version: str
    dir: Path
    go_mod: str
    time: str


def _download_module(path: str, version: str, workdir: Path) -> _Module:
    """Download a module into the Go module cache (also warms the cache for the build)."""
    out = _run_go(["mod", "download", "-json", f"{path}@{version}"], workdir, f"downloading {path}@{version}")
    info = json.loads(out)
    if "Error" in info:
        raise SetupError(f"downloading {path}@{version} failed: {info['Error']}")
    stamp = json.loads(Path(info["Info"]).read_text()).get("Time", "")
    return _Module(path, version, Path(info["Dir"]), Path(info["GoMod"]).read_text(), stamp)


def _go_directive(go_mod: str) -> str:
    match = re.search(r"^go\s+(\S+)", go_mod, re.MULTILINE)
    return match.group(1) if match else "1.22"


def local_replacements(go_mod: str) -> list[str]:
    """Module paths that `go_mod` requires but replaces with a relative directory.

    Those are exactly the modules a wrapper must re-point at published versions. Unrequired
    local replacements (k8s's unpublished sample-* modules) are left out: pointing them at a
    version the proxy does not have would break resolution.
    """
    required = set(re.findall(r"^\s*(?:require\s+)?(\S+)\s+v\S+", go_mod, re.MULTILINE))
    replaced = re.findall(r"^\s*(?:replace\s+)?(\S+)\s+=>\s+\.\.?/\S+", go_mod, re.MULTILINE)
    return [module for module in replaced if module in required]


def write_wrapper_module(
    directory: Path, module: str, version: str, package: str, replaces: Mapping[str, str], go: str
) -> None:
    """Write a module that requires `module@version`, pins `replaces`, and imports `package`."""
    lines = [f"module kms-sandbox.local/build\n\ngo {go}\n\nrequire {module} {version}\n\nreplace ("]
    lines += [f"\t{path} => {path} {pinned}" for path, pinned in sorted(replaces.items())]
    (directory / "go.mod").write_text("\n".join([*lines, ")", ""]))
    (directory / "tools.go").write_text(f'//go:build tools\n\npackage build\n\nimport _ "{package}"\n')


def _stream_build(args: list[str], cwd: Path, name: str, progress: Progress) -> None:
    """Run `go build -v`, turning its one-line-per-package output into sparse progress lines."""
    started, compiled, tail = time.monotonic(), 0, list[str]()
    with subprocess.Popen(
        [_go_binary(), *args],
        cwd=cwd,
        env=_go_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-19:], line.rstrip()]
            compiled += 1
            if compiled % 250 == 0:
                progress(f"  {name}: {compiled} packages compiled ({time.monotonic() - started:.0f}s)")
    if proc.returncode != 0:
        raise SetupError(f"building {name} failed:\n" + "\n".join(tail))
    progress(f"  {name}: built in {time.monotonic() - started:.0f}s")


def kube_ldflags(kube_version: str, build_date: str) -> str:
    """The version stamps hack/lib/version.sh sets, so `--version` and /version report the release.

    The apiserver derives its emulation/compatibility version from gitVersion; an unstamped
    binary reports v0.0.0-master and behaves as a development build.
    """
    version = normalize_kube_version(kube_version)
    _, minor, _ = version[1:].split(".")
    stamps = {"gitVersion": version, "gitMajor": "1", "gitMinor": minor, "gitTreeState": "clean"}
    if build_date:
        stamps["buildDate"] = build_date
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in stamps.items()]
    return " ".join(flags)


def etcd_version_for(kube_dir: Path) -> str:
    """The etcd release a Kubernetes release is tested with, read from its build/dependencies.yaml."""
    text = (kube_dir / "build" / "dependencies.yaml").read_text()
    match = re.search(r'-\s+name:\s+"?etcd"?\s*\n\s+version:\s+"?([0-9][^"\s]*)', text)
    if match is None:
        raise SetupError(f"cannot find the etcd version in {kube_dir}/build/dependencies.yaml")
    return "v" + match.group(1)


def _build_one(
    workdir: Path,
    module: _Module,
    package: str,
    replace_version: str,
    output: Path,
    ldflags: str,
    progress: Progress,
) -> float:
    """Resolve a wrapper module for `module` and build `package` into `output`; returns seconds."""
    workdir.mkdir(parents=True)
    replaces = dict.fromkeys(local_replacements(module.go_mod), replace_version)
    write_wrapper_module(
        workdir, module.path, module.version, package, replaces, _go_directive(module.go_mod)
    )
    progress(f"resolving dependencies of {module.path}@{module.version} ({len(replaces)} replaced modules)")
    _run_go(["mod", "tidy"], workdir, f"resolving {module.path}@{module.version}")
    progress(f"compiling {output.name} (several minutes on a cold Go build cache)")
    started = time.monotonic()
    _stream_build(
        ["build", "-v", f"-ldflags={ldflags}", "-o", str(output), package], workdir, output.name, progress
    )
    return time.monotonic() - started


def _publish(staging: Path, final: Path) -> None:
    """Atomically move a finished build into place; a concurrent winner's result is kept."""
    try:
        staging.rename(final)
    except OSError:
        if _binaries_in(final, "cache") is None:
            raise SetupError(f"{final} exists but is incomplete: delete it and run setup again") from None
        shutil.rmtree(staging, ignore_errors=True)


def build_binaries(kube_version: str, progress: Progress) -> Binaries:
    """Build kube-apiserver and etcd for `kube_version` into the cache and return their paths.

    Everything is built in a temporary directory next to the final one and renamed into place
    at the end, so an interrupted build leaves nothing that `find_binaries` would accept.
    """
    version = normalize_kube_version(kube_version)
    go = _go_binary()
    progress(f"using {_run_go(['version'], Path.cwd(), 'go version').strip()}")
    final = cache_bin_dir(version)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=final.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="kms-sandbox-gobuild-") as scratch_name:
            scratch = Path(scratch_name)
            progress(f"downloading {KUBE_MODULE}@{version} from the Go module proxy")
            kube = _download_module(KUBE_MODULE, version, scratch)
            etcd_version = etcd_version_for(kube.dir)
            progress(f"Kubernetes {version} pins etcd {etcd_version}")
            etcd = _download_module(ETCD_MODULE, etcd_version, scratch)
            seconds = {
                APISERVER_NAME: _build_one(
                    scratch / "apiserver",
                    kube,
                    APISERVER_PACKAGE,
                    staging_version(version),
                    staging / APISERVER_NAME,
                    kube_ldflags(version, kube.time),
                    progress,
                ),
                ETCD_NAME: _build_one(
                    scratch / "etcd", etcd, ETCD_PACKAGE, etcd_version, staging / ETCD_NAME, "-s -w", progress
                ),
            }
        info = {"kube_version": version, "etcd_version": etcd_version, "go": go, "build_seconds": seconds}
        (staging / BUILD_INFO_NAME).write_text(json.dumps(info, indent=2) + "\n")
        staging.chmod(0o755)
        _publish(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    found = _binaries_in(final, "built")
    if found is None:
        raise SetupError(f"build finished but {final} does not hold both binaries")
    return found


# --- choosing binaries for a run ---------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The binaries a local run uses, the release they are, and why that release."""

    binaries: Binaries
    kube_version: str
    note: str = ""
    """Set when the requested release was not available and another one runs instead."""


def _cached_releases() -> list[str]:
    """Releases with both binaries in the cache, newest first."""
    root = cache_root() / "bin"
    found = []
    for entry in root.iterdir() if root.is_dir() else ():
        match = _STABLE_KUBE.match(entry.name)
        if match and _binaries_in(entry, "cache"):
            found.append(((int(match.group(1)), int(match.group(2))), entry.name))
    return [name for _, name in sorted(found, reverse=True)]


def resolve_for_run(requested: str, bin_dir: Path | None = None) -> Resolved:
    """Binaries for `requested`: "" (the pinned default), "1.34" (newest cached 1.34.x) or "v1.34.2".

    A minor-only request (a scenario's `kubeVersion: "1.34"`) falls back to the newest release
    that is set up, with a note saying so: bundled scenarios teach behaviour that has not changed
    since, and refusing to run them without a 15-minute build would help nobody. An exact
    release is never substituted.
    """
    text = requested.strip()
    if not text:
        text = DEFAULT_KUBE_VERSION
    minor_only = re.fullmatch(r"v?1\.(\d+)", text)
    if minor_only is None:
        version = normalize_kube_version(text)
        found = find_binaries(version, bin_dir)
        if found is None:
            raise SetupError(
                f"no kube-apiserver/etcd {version} in --bin-dir, $KUBEBUILDER_ASSETS or "
                f"{cache_bin_dir(version)}: run `kms-sandbox setup local --kube-version {version}`"
            )
        return Resolved(found, version)
    minor = int(minor_only.group(1))
    cached = _cached_releases()
    same_minor = [v for v in cached if int(_STABLE_KUBE.match(v).group(1)) == minor]  # type: ignore[union-attr]
    if same_minor:
        return Resolved(find_binaries(same_minor[0], bin_dir) or _must(same_minor[0]), same_minor[0])
    fallback = DEFAULT_KUBE_VERSION if DEFAULT_KUBE_VERSION in cached else (cached[0] if cached else "")
    if not fallback:
        raise SetupError(
            f"no kube-apiserver/etcd binaries are set up (wanted 1.{minor}): run `kms-sandbox setup local` "
            f"(or `--kube-version v1.{minor}.N` for that release)"
        )
    note = (
        f"Kubernetes 1.{minor} is not set up for the local backend; running the real {fallback} instead "
        f"(`kms-sandbox setup local --kube-version v1.{minor}.N` builds that release)"
    )
    return Resolved(find_binaries(fallback, bin_dir) or _must(fallback), fallback, note)


def _must(version: str) -> Binaries:
    found = _binaries_in(cache_bin_dir(version), "cache")
    if found is None:
        raise SetupError(f"the cached {version} binaries disappeared: run `kms-sandbox setup local`")
    return found
