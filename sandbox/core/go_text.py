"""Go's text formats that upstream messages embed: %q strings, time.Duration, url.Parse errors.

The simulator shows learners kube-apiserver's exact words, and those words contain values as Go
prints them (`Invalid value: "v3"`, `Invalid value: 0s`, `parse "unix:///a\\n": net/url: ...`).
"""

from __future__ import annotations

import re

_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)?")


def go_quote(s: str) -> str:
    """Go's %q for the strings we render (ASCII escapes; enough for error texts)."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_go_duration(text: str) -> float:
    """time.ParseDuration, returning seconds; ValueError carries Go's message."""
    s = text
    sign = 1.0
    if s[:1] in ("-", "+"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"time: invalid duration {go_quote(text)}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            raise ValueError(f"time: invalid duration {go_quote(text)}")
        if m.group(2) is None:
            raise ValueError(f"time: missing unit in duration {go_quote(text)}")
        total += float(m.group(1)) * _NS[m.group(2)]
        pos = m.end()
    return sign * total / 1e9


def _frac(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def format_go_duration(seconds: float) -> str:
    """time.Duration.String() for a duration given in seconds (e.g. 0s, -1s, 1.5s, 1m30s, 100ms)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_frac(ns, 1_000)}µs"
    if ns < 10**9:
        return f"{sign}{_frac(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs = _frac(rest, 10**9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return f"{sign}{secs}"


def parse_url_scheme(raw: str) -> str:
    """The (lower-cased) scheme net/url.Parse would find; ValueError carries its error text."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError(f"parse {go_quote(raw)}: net/url: invalid control character in URL")
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return ""
            continue
        if c == ":":
            if i == 0:
                raise ValueError(f"parse {go_quote(raw)}: missing protocol scheme")
            return raw[:i].lower()
        return ""
    return ""
