"""Shared pieces of the endpoint and boot-storm benchmarks.

Why a module: both benchmarks need a real `Cluster` (lab PKI, real ITL and signed
per-phone configs for N phone records) running in a process of its own, so the
server side gets its own GIL and core, plus the same bookkeeping (descriptor
limit, peak RSS, machine load, percentiles). The cluster process is driven over a
`multiprocessing` pipe and stops by itself if its parent goes quiet, so no load
loop can outlive the benchmark.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness.cluster.cluster import Cluster
from harness.cluster.from_spec import cluster_ports, cluster_state
from harness.cluster.state import Service
from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from lab_topology import LabSpec
from lab_topology.generate import twin_lab

CLUSTER_START_TIMEOUT = 300.0  # PKI + N signed configs; a few seconds for 1,000 phones


def raise_nofile() -> int:
    """Raise the soft descriptor limit to the hard one (a storm holds thousands of sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def peak_rss_mb() -> float:
    """This process's peak resident set size (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's current resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine_load() -> str:
    """One line on the machine's load, to print beside the figures."""
    one, five, fifteen = os.getloadavg()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {cpus} CPUs"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class ClusterInfo:
    """Where the cluster in the child process listens, and what phones trust."""

    tftp: list[tuple[str, int]]
    tvs: list[tuple[str, int]]
    https: list[tuple[str, int]]
    sip: list[tuple[str, int]]
    tvs_der: bytes  # the TVS certificate of the first node (in the ITL, role 21)
    tomcat_der: bytes  # the HTTPS certificate TVS vouches for
    setup_s: float
    files: int


@dataclass
class ClusterReport:
    """What the cluster process saw, sent back when it stops."""

    peak_rss_mb: float
    cpu_s: float  # between "cluster up" and "stop"
    events: Counter[str] = field(default_factory=Counter)  # by kind
    tftp_results: Counter[str] = field(default_factory=Counter)  # ok, not_found, error...
    errors: list[str] = field(default_factory=list)  # the first few error events, described


@contextlib.contextmanager
def running_cluster(lab: LabSpec) -> Iterator[tuple[Cluster, ClusterInfo, EventLog]]:
    """A started `Cluster` for `lab`'s first rack (fresh lab PKI in a temporary
    directory, one signed config per phone record), stopped on exit."""
    rack = lab.racks[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="phonelab-bench-") as tmp:
        nodes = rack.cluster.nodes
        pki = LabPKI.init(Path(tmp) / "pki", [n.name for n in nodes],
                          addresses={n.name: str(n.address) for n in nodes})
        events = EventLog()
        cluster = Cluster(cluster_state(rack), pki, events=events, ports=cluster_ports(rack),
                          name=rack.name)
        cluster.start()
        try:
            node = nodes[0].name

            def where(service: Service) -> list[tuple[str, int]]:
                return [e.address for e in cluster.plane.of(service) if e.running]

            info = ClusterInfo(
                tftp=where(Service.TFTP), tvs=where(Service.TVS), https=where(Service.HTTPS),
                sip=where(Service.SIP), tvs_der=pki.identity(CertRole.tvs, node).der,
                tomcat_der=pki.identity(CertRole.tomcat, node).der,
                setup_s=time.perf_counter() - started,
                files=len(cluster.plane.files[node].names()))
            yield cluster, info, events
        finally:
            cluster.stop()


def _cluster_main(lab: LabSpec, conn: Connection, idle_limit: float) -> None:
    """Child process: run the cluster of `lab`'s first rack until told to stop."""
    raise_nofile()
    with running_cluster(lab) as (_cluster, info, events):
        conn.send(info)
        cpu = time.process_time()
        # wait for "stop"; a parent that vanished or hangs must not strand this process
        if not conn.poll(idle_limit):
            return
        conn.recv()
        cpu = time.process_time() - cpu
        seen = events.snapshot()
        results = Counter(str(e.data.get("result")) for e in seen if e.kind == "tftp.rrq")
        bad = [e for e in seen if e.kind.endswith(".error")
               or (e.kind == "tftp.rrq" and e.data.get("result") not in ("ok", "not_found"))]
        report = ClusterReport(peak_rss_mb(), cpu, Counter(e.kind for e in seen), results,
                               [e.describe() for e in bad[:10]])
    conn.send(report)


class ClusterProcess:
    """A `Cluster` for `twin_lab(phones)` in a spawned process; a context manager."""

    def __init__(self, phones: int, *, idle_limit: float = 600.0) -> None:
        self.lab = twin_lab(phones)
        self.idle_limit = idle_limit
        ctx = mp.get_context("spawn")  # no fork of a process that may hold threads
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_cluster_main, args=(self.lab, child, idle_limit),
                                 name="bench-cluster", daemon=True)
        self.info: ClusterInfo | None = None
        self.report: ClusterReport | None = None

    def __enter__(self) -> ClusterProcess:
        self._proc.start()
        self.info = self._receive(CLUSTER_START_TIMEOUT, "start")
        return self

    def stop(self) -> ClusterReport:
        """Ask the cluster to stop; returns its report (peak RSS, CPU, event counts)."""
        if self.report is None:
            with contextlib.suppress(OSError):  # it may have ended by itself
                self._conn.send("stop")
            self.report = self._receive(60, "report")
            self._proc.join(30)
        return self.report

    def _receive(self, timeout: float, what: str) -> Any:
        try:
            if self._conn.poll(timeout):
                return self._conn.recv()
        except EOFError:
            pass
        self._kill()
        raise RuntimeError(f"cluster process gave no {what} within {timeout:g} s "
                           f"(exit code {self._proc.exitcode}; its traceback is above)")

    def _kill(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join(10)

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.report is None and self._proc.is_alive():
                self.stop()
        finally:
            self._kill()


# --- CPU of a server's whole process tree -------------------------------------------------
# Why hand-written: a forking server's children are invisible to /proc once reaped without a
# wait (tftpd-hpa ignores SIGCHLD with SA_NOCLDWAIT, so their CPU never reaches its cutime).
# The kernel's task clock, inherited by every thread and child, folds a child's CPU into the
# counter when it exits. No maintained Python binding opens one, and the `perf` tool's
# Debian wrapper refuses kernels it was not built for, so perf_event_open is called here.

_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}  # syscall numbers
_PERF_TYPE_SOFTWARE, _PERF_COUNT_SW_TASK_CLOCK, _PERF_INHERIT = 1, 1, 1 << 1
_PERF_FLAG_FD_CLOEXEC = 8


class _PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr as of its first version (PERF_ATTR_SIZE_VER0, 64 bytes)."""

    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32),
                ("config", ctypes.c_uint64), ("sample_period", ctypes.c_uint64),
                ("sample_type", ctypes.c_uint64), ("read_format", ctypes.c_uint64),
                ("flags", ctypes.c_uint64), ("wakeup_events", ctypes.c_uint32),
                ("bp_type", ctypes.c_uint32), ("config1", ctypes.c_uint64)]


def _task_clock(tid: int) -> int | None:
    """A task-clock counter on thread `tid` and everything it starts from now on (its fd),
    or None where the kernel or the permissions do not allow one."""
    number = _PERF_EVENT_OPEN.get(os.uname().machine)
    if number is None:
        return None
    attr = _PerfEventAttr(type=_PERF_TYPE_SOFTWARE, size=ctypes.sizeof(_PerfEventAttr),
                          config=_PERF_COUNT_SW_TASK_CLOCK, flags=_PERF_INHERIT)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = int(libc.syscall(number, ctypes.byref(attr), tid, -1, -1, _PERF_FLAG_FD_CLOEXEC))
    return fd if fd >= 0 else None


def proc_cpu_s(pid: int) -> float:
    """utime+stime+cutime+cstime of `pid` from /proc: its threads and the children it reaped."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent not idle since boot (all CPUs, /proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds used between `ServerCpu` starting and `read()`."""

    tree_s: float | None  # the task clock of every thread and child (None: not available)
    proc_s: float  # what /proc/<pid>/stat shows: threads plus reaped children only
    machine_busy_s: float  # the whole machine, every process on it

    @property
    def server_s(self) -> float:
        """The best figure there is: the task clock where it exists, else /proc."""
        return self.tree_s if self.tree_s is not None else self.proc_s


class ServerCpu:
    """CPU used from now on by server processes `pids`, their threads and their children."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self._fds: list[int] = []
        complete = True
        for pid in self.pids:
            for tid in os.listdir(f"/proc/{pid}/task"):
                fd = _task_clock(int(tid))
                if fd is None:
                    complete = False
                else:
                    self._fds.append(fd)
        if not complete:  # a partial tree would read low: rely on /proc alone
            self.close()
        self._proc = sum(proc_cpu_s(pid) for pid in self.pids)
        self._busy = machine_busy_s()

    def read(self) -> CpuUse:
        tree = (sum(int.from_bytes(os.read(fd, 8), "little") for fd in self._fds) / 1e9
                if self._fds else None)
        return CpuUse(tree, sum(proc_cpu_s(pid) for pid in self.pids) - self._proc,
                      machine_busy_s() - self._busy)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
