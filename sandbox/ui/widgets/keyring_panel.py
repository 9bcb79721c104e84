"""The plugin's side: its KEKs (which one is current, which are retired) and what is broken.

Read from the plugin's control API (`get_state()`), refreshed when a PluginStateChanged event
says a control action happened, so it always shows the plugin's own view, not a guess.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from sandbox.kms.model import PluginStateView
from sandbox.ui.model import clock_text
from sandbox.ui.widgets.panel import Panel


def describe_state(index: int, state: PluginStateView) -> Text:
    out = Text()
    out.append(f"plugin-{index} ", style="bold")
    out.append(f"api {state.api}  pid {state.pid or '-'}\n", style="dim")
    for key in state.keys:
        marker, style = ("● ", "bold green") if key.current else ("○ ", "")
        out.append(marker + key.key_id, style=style)
        out.append(f"  created {clock_text(key.created)}", style="dim")
        out.append("  current\n" if key.current else "\n", style="green")
    for key_id in state.retired_key_ids:
        out.append(f"✗ {key_id}  retired (data under it is lost)\n", style="red")
    if state.outage != "none":
        out.append(f"OUTAGE: {state.outage}\n", style="bold red reverse")
    if not state.health.is_default:
        health = state.health
        out.append(
            f"Status reports healthz={health.healthz!r} key_id={health.key_id_mode}", style="bold yellow"
        )
        if health.version:
            out.append(f" version={health.version!r}", style="bold yellow")
        out.append("\n")
    encrypt_ms, decrypt_ms = state.remote_latency_ms
    if encrypt_ms or decrypt_ms:
        out.append(f"remote latency: Encrypt {encrypt_ms:g} ms, Decrypt {decrypt_ms:g} ms\n", style="yellow")
    for fault in state.faults:
        what = fault.code or "latency"
        extra = f" +{fault.latency_ms:g} ms" if fault.latency_ms else ""
        count = f" next {fault.count}" if fault.count else ""
        out.append(f"fault {fault.method}: {what}{extra}{count}\n", style="yellow")
    if state.outage == "none" and state.health.is_default and not state.faults:
        out.append("healthy, no faults\n", style="green")
    out.rstrip()
    return out


class KeyringPanel(Panel):
    PANEL = "keyring"
    TITLE = "Keyring & faults"

    DEFAULT_CSS = """
    KeyringPanel > #keyring-body { height: auto; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("waiting for the plugin…", id="keyring-body")

    def refresh_view(self) -> None:
        states, error = self.model.plugin_states, self.model.plugin_error
        if not states and not error:
            self.set_static("#keyring-body", Text("waiting for the plugin…", style="dim"))
            return
        text = Text()
        for i, (index, state) in enumerate(sorted(states.items())):
            if i:
                text.append("\n")
            text.append_text(describe_state(index, state))
        if error:
            text.append(f"\nunreachable: {error}" if states else f"unreachable: {error}", style="red")
        self.set_static("#keyring-body", text)
