"""Checks for options several commands share: ports, counts, durations, server lists.

click's ranges let NaN through (every comparison with NaN is false) and allow
nothing like "finite and positive", so durations get a callback of their own.
Failures are `typer.BadParameter`, which `main` prints as one line with exit 2.
"""

from __future__ import annotations

import math

import typer

from harness.errors import UsageError


def port_or_any(value: int) -> int:
    """A TCP/UDP port; 0 asks the system for any free port."""
    if not 0 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a port (1-65535, or 0 for any free port)")
    return value


def seconds(value: float) -> float:
    """A finite, positive duration in seconds (at most a day)."""
    if not math.isfinite(value) or not 0 < value <= 86400:
        raise typer.BadParameter(f"{value} is not a duration in seconds (above 0, up to 86400)")
    return value


def days(value: int) -> int:
    """Certificate validity: CUCM's CAPF offers 1 to 3560 days (about ten years)."""
    if not 1 <= value <= 3560:
        raise typer.BadParameter(f"{value} days is out of range (1-3560)")
    return value


def parse_servers(text: str, option: str, default_port: int) -> tuple[tuple[str, int], ...]:
    """`HOST[:PORT][,HOST[:PORT]…]` into (host, port) pairs, as `--tftp`/`--tvs` take them."""
    servers = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        host, sep, port = part.rpartition(":")
        if not sep:
            host, port = part, str(default_port)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"{option}: {part!r} is not HOST[:PORT]")
        servers.append((host, int(port)))
    if not servers:
        raise UsageError(f"{option} names no server")
    return tuple(servers)
