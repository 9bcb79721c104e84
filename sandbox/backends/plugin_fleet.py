"""The bundled plugin processes a backend owns, and the accessors every backend shares.

The simulator and the local backend both run the plugin as real subprocesses with one control
client each; how a plugin index is checked, how its control client is found and how a restart
with downtime is spelled is the same on both, so it lives here once.
"""

from __future__ import annotations

from sandbox.backends.base import Backend, BackendError
from sandbox.kms.control_client import PluginControlClient
from sandbox.kms.process import PluginProcess


class PluginFleet(Backend):
    """A Backend whose plugins are `PluginProcess`es, with one control client per plugin."""

    plugins: list[PluginProcess]
    controls: list[PluginControlClient]

    def plugin_control_endpoint(self, index: int = 0) -> str:
        return self._plugin(index).control_endpoint

    def _plugin(self, index: int) -> PluginProcess:
        if not 0 <= index < len(self.plugins):
            raise BackendError(f"no plugin {index}: this run has {len(self.plugins)}")
        return self.plugins[index]

    def control(self, index: int = 0) -> PluginControlClient:
        """The `PluginControlClient` of plugin `index` (rotate, set_health, set_outage, add_fault...)."""
        self._plugin(index)
        return self.controls[index]

    async def restart_plugin(self, index: int = 0, down_for: float = 0.0) -> None:
        await self.stop_plugin(index)
        if down_for > 0:
            await self.advance(down_for, reason=f"plugin-{index} down")
        await self.start_plugin(index)
