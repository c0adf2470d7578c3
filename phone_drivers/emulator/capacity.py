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


FDS_PER_STORM_PHONE = 5  # no pty: signalling, TFTP, two TLS connections, slack
STORM_KB_PER_PHONE = 150  # budget per console-less twin phone, all processes counted
LOOPBACK_PHONES = 60_000  # twin_lab's address plan: 127.30.0.1 and up


@dataclass(frozen=True)
class StormCapacity:
    """How many console-less twin phones this host runs spread over `processes`."""

    max_phones: int
    limited_by: str
    bounds: tuple[tuple[str, int], ...]  # every bound, in words, for the up-front line

    def line(self) -> str:
        parts = ", ".join(f"{what}: {count}" for what, count in self.bounds)
        return f"twin scale bounded by the host at {self.max_phones} phones ({parts})"


def storm_capacity(processes: int) -> StormCapacity:
    """The bound on a storm's console-less phones spread over `processes`, read before
    starting: descriptors per process (lifted to the hard limit), the address plan,
    the cluster address's ephemeral ports (one TFTP transfer socket per phone at
    once) and memory at STORM_KB_PER_PHONE."""
    hard = raise_fd_limit()
    per_process = 1_000_000 if hard == resource.RLIM_INFINITY else max(
        0, (hard - FDS_BASE) // FDS_PER_STORM_PHONE)
    bounds = [(f"open files {hard} per process x {processes}", per_process * processes),
              ("twin addresses 127.30.0.0/15", LOOPBACK_PHONES)]
    ports = _local_ports()
    if ports is not None:
        bounds.append((f"{ports} ephemeral ports on the cluster address", ports))
    available = _available_kb()
    if available is not None:
        bounds.append((f"{available // 1024} MB available / {STORM_KB_PER_PHONE} KB per phone",
                       available // STORM_KB_PER_PHONE))
    count, reason = min((c, w) for w, c in bounds)
    return StormCapacity(count, reason, tuple(bounds))


def phones_per_process() -> int:
    """Console-less phones one process can hold by descriptors (after lifting the limit)."""
    hard = raise_fd_limit()
    if hard == resource.RLIM_INFINITY:
        return 1_000_000
    return max(1, (hard - FDS_BASE) // FDS_PER_STORM_PHONE)


def _local_ports() -> int | None:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return None
    return int(high) - int(low) + 1


def _available_kb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
