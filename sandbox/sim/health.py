"""The apiserver's health endpoints as text, exactly as kube-apiserver answers (kmsv2-spec.md 6).

* `/healthz`, `/readyz`, `/livez`: `ok` (200) when every check passes; otherwise 500 with the
  verbose list, failing KMS checks shown as `[-]kms-providers failed: reason withheld`, ending in
  `healthz check failed`. `?verbose` lists the checks on success too; `?exclude=<name>` skips one
  and warns about names that match nothing.
* `/healthz/<check>`: `ok`, or 500 with `internal server error: <err>`.
* KMS checks are on livez only before 1.29; anything unknown is `404 page not found`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

HealthCheck = Callable[[], Awaitable[str | None]]
NOT_FOUND = "404 page not found\n"


@dataclass(frozen=True)
class HealthAnswer:
    code: int
    body: str


async def _ok() -> str | None:
    return None


BASE_CHECKS: dict[str, tuple[str, ...]] = {
    "healthz": ("ping", "log", "etcd"),
    "livez": ("ping", "log", "etcd"),
    "readyz": ("ping", "log", "etcd", "etcd-readiness"),
}


async def answer(
    path: str,
    kms_checks: Sequence[tuple[str, HealthCheck]],
    *,
    kms_on_livez: bool,
    on_result: Callable[[str, str, str | None], None] | None = None,
    post_start_hooks: Sequence[str] = (),
) -> HealthAnswer:
    """Answers `path` (with an optional query string) from the KMS checks of one apiserver.

    `post_start_hooks` are hook names that have run; each is an `ok` check named
    `poststarthook/<name>` on all three endpoints.
    """
    parts = urlsplit(path)
    segments = [s for s in parts.path.split("/") if s]
    query = parse_qs(parts.query, keep_blank_values=True)
    if not segments or segments[0] not in BASE_CHECKS:
        return HealthAnswer(404, NOT_FOUND)
    endpoint = segments[0]
    checks: list[tuple[str, HealthCheck]] = [(name, _ok) for name in BASE_CHECKS[endpoint]]
    if endpoint != "livez" or kms_on_livez:
        checks.extend(kms_checks)
    checks.extend((f"poststarthook/{hook}", _ok) for hook in post_start_hooks)
    if endpoint == "readyz":
        checks.append(("shutdown", _ok))

    async def run(name: str, check: HealthCheck) -> str | None:
        error = await check()
        if on_result is not None:
            on_result(endpoint, name, error)
        return error

    if len(segments) > 1:
        wanted = "/".join(segments[1:])
        for name, check in checks:
            if name == wanted:
                error = await run(name, check)
                if error is None:
                    return HealthAnswer(200, "ok")
                return HealthAnswer(500, f"internal server error: {error}\n")
        return HealthAnswer(404, NOT_FOUND)

    excluded = [e for values in query.get("exclude", []) for e in values.split(",") if e]
    names = {name for name, _ in checks}
    unmatched = sorted({e for e in excluded if e not in names})
    lines: list[str] = []
    failed = False
    for name, check in checks:
        if name in excluded:
            lines.append(f"[+]{name} excluded: ok")
            continue
        error = await run(name, check)
        if error is None:
            lines.append(f"[+]{name} ok")
        else:
            failed = True
            lines.append(f"[-]{name} failed: reason withheld")
    body = "".join(line + "\n" for line in lines)
    if unmatched:
        body += (
            "warn: some health checks cannot be excluded: no matches for "
            + ",".join(f'"{e}"' for e in unmatched)
            + "\n"
        )
    if failed:
        return HealthAnswer(500, f"{body}{endpoint} check failed\n")
    if "verbose" not in query:
        return HealthAnswer(200, "ok")
    return HealthAnswer(200, f"{body}{endpoint} check passed\n")
