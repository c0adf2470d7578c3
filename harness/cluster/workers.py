"""A multi-core cluster: one `Cluster` replica per worker process, all on the same ports.

One process serves a cluster on one core (one GIL): TLS handshakes for TVS and HTTPS,
TFTP blocks and SIP all queue behind each other, which is what made 2,000 phones wait
over 5 s for HTTPS. Here every worker process builds the same cluster (same state,
same PKI read from disk, same file-set stamp, so the files are byte-identical) and
binds the same addresses with SO_REUSEPORT; the kernel spreads new UDP flows and TCP
connections over the workers. State that lives in one request stays on the worker that
got it: a TFTP transfer continues from the fresh ephemeral port that worker opened for
the reply, a TLS exchange on its connection. State that spans requests (SIP bindings,
CAPF sessions) is per worker, so this is for load (storms, benchmarks), not for
procedures that reset phones through the registrar.

Why a bind policy and not an endpoint option: SO_REUSEPORT must be set before `bind()`
on every socket sharing the port, and the endpoints (another team's code) create their
sockets in `start()` (some through subclasses of `socket.socket`). Worker processes exist
only to serve, so each installs, for itself alone, a `socket.socket.bind` that sets
SO_REUSEPORT on binds to a fixed port (binds to port 0, the per-transfer sockets, are
left alone: the kernel could otherwise hand two workers the same ephemeral port). Each
worker's timeline comes back when it stops and the parent merges them in time order.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import multiprocessing as mp
import resource
import socket
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness.cluster.plane import Ports
from harness.cluster.state import Service
from harness.events import Event, EventLog
from harness.services.base import Endpoint
from harness.services.connection_cap import ConnectionCap
from lab_topology.schema import RackSpec

START_TIMEOUT = 600.0  # a worker signs every phone's config before it serves
STAMP_AHEAD = 120  # s: the shared file-set stamp lies ahead of every worker's clock


_plain_bind = socket.socket.bind


def _bind_sharing_fixed_ports(sock: socket.socket, address: Any) -> None:
    """`socket.bind` that sets SO_REUSEPORT first when the port is fixed (not 0)."""
    if (sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
            and len(address) >= 2 and address[1]):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    _plain_bind(sock, address)


def share_fixed_ports() -> None:
    """From now on, in this process, every bind to a fixed port sets SO_REUSEPORT: on the
    `socket.socket` class itself, so subclasses the endpoints use (fault-injection
    sockets, TLS sockets) inherit it."""
    socket.socket.bind = _bind_sharing_fixed_ports  # type: ignore[method-assign,assignment]


def free_ports(host: str, ports: Ports) -> Ports:
    """`ports` with each 0 replaced by a port free on `host` now (workers need fixed
    ports to share). TLS ports stay 0 unless given: mixed mode is not served here."""
    chosen: dict[str, int] = {}
    for name in ("tftp", "tvs", "capf", "https", "sip", "sccp"):
        if getattr(ports, name):
            continue
        kind = socket.SOCK_DGRAM if name == "tftp" else socket.SOCK_STREAM
        for _ in range(50):  # SIP listens on UDP and TCP: the port must be free for both
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
            if port not in chosen.values() and _free_both(host, port):
                chosen[name] = port
                break
    return replace(ports, **chosen)


def _free_both(host: str, port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


@dataclass(frozen=True)
class WorkerReady:
    index: int
    pid: int
    addresses: dict[str, list[tuple[str, int]]]  # service value -> where it listens
    setup_s: float
    files: int


@dataclass
class WorkerReport:
    index: int
    pid: int
    peak_rss_mb: float
    cpu_s: float
    events: list[Event] = field(default_factory=list)


def _size_connection_caps(endpoints: Iterable[Endpoint], phones: int, workers: int,
                          descriptors: int) -> None:
    """Let each worker hold its share of the phones' signalling connections.

    Every registered phone keeps one SIP or SCCP connection open; the default cap
    (1,024 per listener, connection_cap.py) suits a rack in one process but would
    evict registered phones of a 10,000-phone cluster. The share is the phones over
    the workers with a third for the kernel's uneven spread, bounded by a third of
    the worker's descriptors; caps never go below their default."""
    share = math.ceil(phones * 4 / 3 / workers) + 64
    limit = min(share, max(16, descriptors // 3))
    for endpoint in endpoints:
        for cap in vars(endpoint).values():
            if isinstance(cap, ConnectionCap) and cap.limit < limit:
                cap.limit = limit


def _worker(index: int, box: list[RackSpec], pki_root: Path, ports: Ports, stamp: int,
            conn: Connection, idle_limit: float, window: int, workers: int) -> None:
    """Worker process: serve one replica of the cluster until told to stop.

    The rack comes in a list this takes it out of: the process object keeps its
    arguments for its whole life, and a 10,000-phone rack is ~18 MB of models that
    serve no purpose once the cluster state is built from them."""
    from harness.cluster.cluster import Cluster
    from harness.cluster.from_spec import cluster_state
    from harness.pki import LabPKI

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    share_fixed_ports()
    started = time.perf_counter()
    events = EventLog(window=window)
    rack = box.pop()
    phones, state = len(rack.phones), cluster_state(rack)
    cluster = Cluster(state, LabPKI.load(pki_root), events=events, ports=ports,
                      name=f"{rack.name}-w{index}")
    del rack
    cluster._stamp = stamp  # byte-identical files in every worker (see the module docstring)
    _size_connection_caps(cluster.plane.endpoints.values(), phones, workers, hard)
    cluster.start()
    try:
        where = {s.value: [e.address for e in cluster.plane.of(s) if e.running] for s in Service}
        node = cluster.state.nodes_running(Service.TFTP)[0].name
        conn.send(WorkerReady(index, mp.current_process().pid or 0, where,
                              time.perf_counter() - started,
                              len(cluster.plane.files[node].names())))
        cpu = time.process_time()
        if conn.poll(idle_limit):  # a parent that vanished or hangs must not strand this
            with contextlib.suppress(EOFError):
                conn.recv()
        cpu = time.process_time() - cpu
    finally:
        cluster.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with contextlib.suppress(OSError):
        conn.send(WorkerReport(index, mp.current_process().pid or 0, peak, cpu,
                               events.snapshot()))


@dataclass
class ClusterReport:
    """What every worker saw, merged: events in time order, per-worker peak RSS and CPU."""

    workers: list[WorkerReport]

    @property
    def events(self) -> list[Event]:
        return merge_timelines([w.events for w in self.workers])

    @property
    def counts(self) -> Counter[str]:
        return Counter(e.kind for w in self.workers for e in w.events)

    @property
    def peak_rss_mb(self) -> float:
        return sum(w.peak_rss_mb for w in self.workers)

    @property
    def cpu_s(self) -> float:
        return sum(w.cpu_s for w in self.workers)


def merge_timelines(timelines: list[list[Event]]) -> list[Event]:
    """One timeline from several, in time order (ties: worker order), renumbered."""
    merged = heapq.merge(*timelines, key=lambda e: e.time)
    return [replace(event, seq=seq) for seq, event in enumerate(merged)]


class ClusterWorkers:
    """`workers` replicas of `rack`'s cluster on shared ports; a context manager.

    The PKI at `pki_root` must exist (LabPKI.init) and not change while they run."""

    def __init__(self, rack: RackSpec, pki_root: Path, *, workers: int = 2,
                 ports: Ports | None = None, idle_limit: float = 900.0,
                 window: int = 400_000) -> None:
        if workers < 1:
            raise ValueError("a cluster needs at least one worker")
        host = str(rack.cluster.nodes[0].address)
        self.rack, self.pki_root, self.count = rack, pki_root, workers
        self.ports = free_ports(host, ports or Ports())
        self.idle_limit, self.window = idle_limit, window
        self.ready: list[WorkerReady] = []
        self.report: ClusterReport | None = None
        self._procs: list[Any] = []
        self._conns: list[Connection] = []

    def __enter__(self) -> ClusterWorkers:
        ctx = mp.get_context("spawn")  # no fork of a process that may hold threads
        stamp = int(time.time()) + STAMP_AHEAD
        for index in range(self.count):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, name=f"cluster-w{index}", daemon=True, args=(
                index, [self.rack], self.pki_root, self.ports, stamp, theirs, self.idle_limit,
                self.window, self.count))
            proc.start()
            self._procs.append(proc)
            self._conns.append(mine)
        try:
            for conn, proc in zip(self._conns, self._procs, strict=True):
                self.ready.append(self._receive(conn, proc, START_TIMEOUT, "start"))
        except BaseException:
            self._kill()
            raise
        return self

    def where(self, service: Service) -> list[tuple[str, int]]:
        return self.ready[0].addresses.get(service.value, [])

    def stop(self) -> ClusterReport:
        if self.report is None:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.send("stop")
            reports = [self._receive(c, p, 120, "report")
                       for c, p in zip(self._conns, self._procs, strict=True)]
            for proc in self._procs:
                proc.join(30)
            self.report = ClusterReport(reports)
        return self.report

    def _receive(self, conn: Connection, proc: Any, timeout: float, what: str) -> Any:
        try:
            if conn.poll(timeout):
                return conn.recv()
            why = f"within {timeout:g} s"
        except EOFError:
            why = "before it ended"
        proc.join(1)
        raise RuntimeError(f"cluster worker {proc.name} gave no {what} {why} "
                           f"(exit code {proc.exitcode}; its traceback is above)")

    def _kill(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
            proc.join(10)

    def __exit__(self, *exc: object) -> None:
        try:
            if self.report is None and any(p.is_alive() for p in self._procs):
                self.stop()
        finally:
            self._kill()
