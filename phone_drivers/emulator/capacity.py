"""How many twin phones this host can run, said before starting rather than discovered.

Every twin phone holds a pty pair for its console and a handful of sockets at
once (SIP or SCCP connection, TFTP, TLS to TVS and HTTPS). Starting more than the
host's ptys or the process's file descriptors allow used to end minutes later in
pty exhaustion; the limits are plain to read from /proc and getrlimit up front.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path

FDS_PER_PHONE = 8  # pty pair + signalling + TFTP + two TLS connections + slack
FDS_BASE = 256  # the cluster's listeners, the loop, logs, the fake switch


@dataclass(frozen=True)
class Capacity:
    max_phones: int
    limited_by: str  # what sets the bound, in words a user can act on


def raise_fd_limit() -> int:
    """Lift this process's open-files limit to the hard limit (allowed without root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
    return hard


def twin_capacity(*, consoles: bool = True) -> Capacity:
    """The most twin phones one process can run here, and what limits it."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    by_fds = max(0, (soft - FDS_BASE) // FDS_PER_PHONE) if soft != resource.RLIM_INFINITY \
        else 1_000_000
    bounds = [(by_fds, f"open files limit {soft} (raise it with `ulimit -n`)")]
    if consoles:
        free_ptys = _free_ptys()
        if free_ptys is not None:
            bounds.append((free_ptys, f"{free_ptys} free ptys (kernel.pty.max)"))
    count, reason = min(bounds)
    return Capacity(count, reason)


def _free_ptys() -> int | None:
    try:
        most = int(Path("/proc/sys/kernel/pty/max").read_text())
        used = int(Path("/proc/sys/kernel/pty/nr").read_text())
    except (OSError, ValueError):
        return None
    return max(0, most - used)
