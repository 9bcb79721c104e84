"""Automatic reload of the encryption configuration (kmsv2-spec.md 4.9; scenarios INT-10, R1..R8).

Detection: 1.29+ compares the file's SHA-256 with the loaded one every minute; 1.26-1.28 used
fsnotify, modelled as "the backend says the file changed" (`notify_file_changed`). On a change
the new file is loaded and validated, its providers are built and primed, and its
`kms-providers` check is polled every 100 ms for up to max(KMSCloseGracePeriod, 10 s). Only a
healthy new config is swapped in; the old transformers close after the grace period. Any failure
keeps the old config, records the failure metric and is re-queued with client-go's rate limiter
(5 ms doubling, at most 1000 s): a KMS plugin that stays down costs a new build and prime about
every health-wait period (the real v1.37.2 spent 2 Encrypts where one poll interval gave 1).

The health wait is a chain of clock timers rather than a sleeping loop, so it also runs inside a
virtual-clock `advance()` (which awaits each timer callback in turn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.core.encryption_config import EncryptionConfig, config_hash, kms_close_grace_period
from sandbox.core.events import ApiserverLifecycle
from sandbox.sim.api_types import ApiserverStartError
from sandbox.sim.clock import TimerHandle
from sandbox.sim.providers import ProviderSet, merged_check

if TYPE_CHECKING:
    from sandbox.sim.apiserver import SimApiserver

POLL_INTERVAL = 60.0
HEALTH_POLL = 0.1
MIN_HEALTH_WAIT = 10.0
REQUEUE_BASE = 0.005
REQUEUE_MAX = 1000.0
"""client-go's default per-item rate limiter: 5 ms doubling per failure, capped at 1000 s."""


class ConfigReloader:
    """Watches one apiserver's config file and swaps in new providers when it changes."""

    def __init__(self, apiserver: SimApiserver) -> None:
        self.apiserver = apiserver
        self._timer: TimerHandle | None = None
        self._pending: tuple[ProviderSet, str, EncryptionConfig, float] | None = None
        self._closing: list[TimerHandle] = []
        self._requeue: TimerHandle | None = None
        self._failures = 0
        self.last_error = ""

    @property
    def enabled(self) -> bool:
        api = self.apiserver
        return api.settings.automatic_reload and api.release.reload_detection != "none"

    def start(self) -> None:
        if self.enabled and self.apiserver.release.reload_detection == "poll":
            self._timer = self.apiserver.clock.call_later(POLL_INTERVAL, self._poll)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._requeue is not None:
            self._requeue.cancel()
            self._requeue = None
        self._failures = 0
        for timer in self._closing:
            timer.cancel()
        self._closing.clear()
        if self._pending is not None:
            pending = self._pending[0]
            self._pending = None
            for probe in pending.v2_probes:
                probe.close()

    async def _poll(self) -> None:
        self._timer = self.apiserver.clock.call_later(POLL_INTERVAL, self._poll)
        await self.check_file()

    async def notify_file_changed(self) -> None:
        """fsnotify releases (1.26-1.28) react to the write itself; polling releases ignore this."""
        if self.enabled and self.apiserver.release.reload_detection == "fsnotify":
            await self.check_file()

    async def check_file(self) -> None:
        api = self.apiserver
        if self._pending is not None or not api.running:
            return
        try:
            raw = api.settings.config_path.read_bytes()
        except OSError as exc:
            path = api.settings.config_path
            self._fail(
                f'error reading encryption provider configuration file "{path}": {_go_open_error(path, exc)}'
            )
            return
        if config_hash(raw, api.release.minor) == api.config_hash:
            self._failures = 0  # unchanged: nothing is loaded, and the item is forgotten
            return
        try:
            text, config = api.load_config()
        except ApiserverStartError as exc:
            self._fail(f"error processing encryption config file {api.settings.config_path}: {exc}")
            return
        new = api.build(config)
        await new.prime()
        wait = max(kms_close_grace_period(config), MIN_HEALTH_WAIT)
        self._pending = (new, text, config, api.clock.now() + wait)
        await self._poll_health()

    async def _poll_health(self) -> None:
        if self._pending is None:
            return
        api = self.apiserver
        new, text, config, deadline = self._pending
        error = await merged_check(new.kms_checks)() if new.kms_checks else None
        if error is None:
            self._pending = None
            self._failures = 0
            self._swap(new, text, config)
            return
        if api.clock.now() >= deadline:
            self._pending = None
            await new.close()
            self._fail(
                "health check for new transformers failed, polling error timed out waiting for the "
                f"condition: {error}"
            )
            return
        # Every 100 ms, and a last check exactly at the deadline (as a poll with a timeout ends).
        next_at = min(api.clock.now() + HEALTH_POLL, deadline)
        self._closing = [t for t in self._closing if not t.cancelled and t.when > api.clock.now()]
        self._closing.append(api.clock.call_at(next_at, self._poll_health))

    def _swap(self, new: ProviderSet, text: str, config: EncryptionConfig) -> None:
        api = self.apiserver
        old = api.providers
        api.providers = new
        api.config_text = text
        api.config_hash = config_hash(text, api.release.minor)
        api.metrics.record_reload(True, api.clock.now(), api.config_hash)
        self.last_error = ""
        api.emit(
            ApiserverLifecycle(
                time=api.clock.now(), source=api.source, action="reloaded",
                detail=f"Loaded new kms encryption config content ({api.config_hash})",
            )
        )  # fmt: skip
        if old is not None:
            grace = kms_close_grace_period(old.config)
            self._closing.append(api.clock.call_later(grace, old.close))

    def _fail(self, error: str) -> None:
        api = self.apiserver
        self.last_error = error
        api.metrics.record_reload(False, api.clock.now(), "")
        api.emit(
            ApiserverLifecycle(time=api.clock.now(), source=api.source, action="reload-failed", detail=error)
        )
        # The controller re-queues the item with rate limiting rather than waiting for the next
        # poll: each retry loads and builds the providers again (v2: a prime, so one Encrypt).
        delay = min(REQUEUE_BASE * 2**self._failures, REQUEUE_MAX)
        self._failures += 1
        if self._requeue is not None:
            self._requeue.cancel()
        self._requeue = api.clock.call_later(delay, self._retry)

    async def _retry(self) -> None:
        self._requeue = None
        await self.check_file()


def _go_open_error(path: object, exc: OSError) -> str:
    """Go's `*PathError` text: `open <path>: no such file or directory` (lower-case errno text)."""
    reason = exc.strerror or str(exc)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"
