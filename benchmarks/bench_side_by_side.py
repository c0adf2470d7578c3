"""TFTP side by side: phonelab's endpoint, stock tftpy's server and tftpd-hpa, same client.

Why: "phonelab's TFTP stands a boot storm" only means something next to the servers
people already run. One run starts each server in turn on the same directory (the
cluster ITL and one signed config per phone, realistic sizes), points the same load
at it and counts what phones would: a download is a failure when its server is silent
for a phone's whole retry budget (4 tries, 1 s apart), answers with an ERROR, or
delivers the wrong number of bytes. Each client slot is a phone downloading
`ITLFile.tlv` then its `SEP<MAC>.cnf.xml.sgn` in 512-byte blocks from a fresh socket,
then the next phone's (the client is benchmarks/_tftp_load.py, in separate processes).
Every server runs in a process of its own (phonelab's and tftpy's spawned here,
tftpd-hpa as Debian's in.tftpd), and every phase ends after `--seconds`.

Two figures per server, because they answer different questions. Files per second is
what a storm sees. Files per server CPU-second is what a server costs: on a small host
the client and whatever else runs there share the cores with the server, so
throughput is capped by them as much as by the server, and the throughput ratio moves
with the machine's load. The client's own share of its cores is printed ("client
busy"; near 100% it is the ceiling), with the share it waited for a CPU others held.
Server CPU is the kernel's task clock of every thread and child of the server
process(es), inherited from before the load to the end (benchmarks/_common.py
`ServerCpu`): tftpd-hpa forks a child per request and lets the kernel reap it (SIGCHLD
ignored), so /proc/<pid>/stat never sees the children's CPU; the /proc figure is
printed beside, and used where the task clock cannot be opened. On loopback
a sender's kernel time includes delivering its packet to the receiver, so every
server's figure carries the same per-packet kernel share.

    python benchmarks/bench_side_by_side.py [--clients 100,1000] [--seconds 5]

The last line is machine-readable (1,000 clients, or the largest count run):
    side_by_side clients=<n> phonelab_fps=<x> tftpy_fps=<x> tftpd_hpa_fps=<x>
    vs_tftpy=<x> vs_tftpd_hpa=<x> phonelab_failures=<n> workers_fps=<x> workers_vs_tftpy=<x>
    phonelab_fpcs=<x> tftpy_fpcs=<x> tftpd_hpa_fpcs=<x> cpu_vs_tftpy=<x>
    cpu_vs_tftpd_hpa=<x> client_busy=<x>
`phonelab-workers` is the same endpoint in WORKERS processes sharing the port with
SO_REUSEPORT (harness/cluster/workers.py), as the multi-core cluster runs it. `_fpcs`
is files per server CPU-second, `cpu_vs_` phonelab's over the other's, and
`client_busy` the share of their cores the client processes used in phonelab's run
(near 1: phonelab's files/s is the client's ceiling, not the server's).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from _common import CpuUse, ServerCpu, machine_load, raise_nofile
from _tftp_load import LoadProcesses, LoadTally, Phone

ITL_SIZE, CONFIG_SIZE = 4_400, 6_100  # bytes: a one-node ITL, a signed SIP config
IN_TFTPD = shutil.which("in.tftpd") or "/usr/sbin/in.tftpd"
SERVERS = ("phonelab", "phonelab-workers", "tftpy", "tftpd-hpa")
WORKERS = 2  # phonelab-workers: endpoints sharing the port with SO_REUSEPORT
SATURATED = 0.9  # client busy at or above this: the client, not the server, was the limit


@dataclass(frozen=True)
class Figure:
    server: str
    clients: int
    seconds: float
    tally: LoadTally  # what the clients counted, and their CPU
    cpu: CpuUse  # the server's CPU over the phase

    @property
    def files_per_s(self) -> float:
        return self.tally.files / self.seconds

    @property
    def files_per_cpu_s(self) -> float:
        """Files per server CPU-second: what one download costs the server."""
        cpu = self.cpu.server_s
        return self.tally.files / cpu if cpu > 0 else math.nan


def make_root(directory: Path, phones: int) -> list[Phone]:
    """The served directory: ITLFile.tlv and SEP<MAC>.cnf.xml.sgn per phone; the phones."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ITLFile.tlv").write_bytes(os.urandom(ITL_SIZE))
    macs = [f"{0xA0000000 + i:012X}" for i in range(phones)]
    for mac in macs:
        (directory / f"SEP{mac}.cnf.xml.sgn").write_bytes(os.urandom(CONFIG_SIZE))
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)
    return [Phone(phone_address(i), (("ITLFile.tlv", ITL_SIZE),
                                     (f"SEP{mac}.cnf.xml.sgn", CONFIG_SIZE)))
            for i, mac in enumerate(macs)]


def phone_address(index: int) -> str:
    """The twin lab's address for phone `index` (127.30.0.1 on)."""
    return f"127.{30 + index // 65000}.{(index % 65000) // 250}.{index % 250 + 1}"


def _phonelab_server(root: str, port: int, ready: Connection, shared: bool = False) -> None:
    from harness.cluster.workers import share_fixed_ports
    from harness.events import EventLog
    from harness.services.tftp import TftpEndpoint
    from harness.services.tftp_files import DirectorySource

    raise_nofile()
    if shared:  # one of several workers on the port (harness/cluster/workers.py)
        share_fixed_ports()
    endpoint = TftpEndpoint(DirectorySource(Path(root)), EventLog(), port=port)
    endpoint.start()
    ready.send("up")
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        ready.recv()  # until told to stop (or the parent is gone)
    endpoint.stop()


def _tftpy_server(root: str, port: int, ready: Connection) -> None:
    import threading

    import tftpy

    raise_nofile()
    logging.getLogger("tftpy").setLevel(logging.CRITICAL)
    server = tftpy.TftpServer(root)
    thread = threading.Thread(target=server.listen, args=("127.0.0.1", port), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.is_running.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    ready.send("up")
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        ready.recv()
    server.stop(now=True)
    thread.join(5)


@dataclass(frozen=True)
class Served:
    address: tuple[str, int]
    pids: list[int]  # the server's processes (their threads and children count too)


@contextlib.contextmanager
def serving(kind: str, root: Path) -> Iterator[Served]:
    """One server on 127.0.0.1:<free port> in a process of its own, stopped on exit."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if kind == "tftpd-hpa":
        proc = subprocess.Popen([IN_TFTPD, "-L", "-a", f"127.0.0.1:{port}", "-u", "nobody",
                                 "-s", str(root)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            if proc.poll() is not None:
                raise RuntimeError(f"in.tftpd exited at start (code {proc.returncode})")
            yield Served(("127.0.0.1", port), [proc.pid])
        finally:
            proc.terminate()
            proc.wait(10)
        return
    ctx = mp.get_context("spawn")
    workers = WORKERS if kind == "phonelab-workers" else 1
    pipes, children = [], []
    for _ in range(workers):
        mine, theirs = ctx.Pipe()
        target = _tftpy_server if kind == "tftpy" else _phonelab_server
        args: tuple[object, ...] = (str(root), port, theirs)
        if kind == "phonelab-workers":
            args += (True,)
        child = ctx.Process(target=target, args=args, daemon=True)
        child.start()
        pipes.append(mine)
        children.append(child)
    try:
        for mine in pipes:
            if not mine.poll(30):
                raise RuntimeError(f"{kind} server did not start")
            mine.recv()
        yield Served(("127.0.0.1", port), [c.pid for c in children if c.pid is not None])
    finally:
        for mine, child in zip(pipes, children, strict=True):
            with contextlib.suppress(OSError):
                mine.send("stop")
            child.join(10)
            if child.is_alive():
                child.kill()
                child.join(5)


def measure(kind: str, root: Path, phones: list[Phone], clients: int, seconds: float,
            procs: int) -> Figure:
    """One server under `clients` phones for `seconds`: the clients' tally, the server's CPU."""
    with serving(kind, root) as served:
        load = LoadProcesses(served.address, phones, clients, procs, seconds)
        meter = ServerCpu(served.pids)  # from before the load to before the stop
        try:
            load.start()
            tally = load.tally()
            cpu = meter.read()
        finally:
            meter.close()
    return Figure(kind, load.clients, seconds, tally, cpu)


def describe(figure: Figure) -> str:
    """Two lines on one server's run: what the phones saw, and what it cost."""
    t, cpu = figure.tally, figure.cpu
    seen = (" (/proc only: no task clock here)" if cpu.tree_s is None
            else f" (/proc sees {cpu.proc_s:.2f} s)")
    busy = "saturated" if t.busy >= SATURATED else "not saturated"
    return (f"{figure.server:>16} {figure.clients:>5} clients: {figure.files_per_s:7.0f} files/s, "
            f"{t.failures} failures, {t.retransmits} retransmits ({machine_load()})\n"
            f"{'':>16} server CPU {cpu.server_s:.2f} s{seen} = "
            f"{figure.files_per_cpu_s:.0f} files per server CPU-second; client CPU "
            f"{t.cpu_s:.2f} s = {t.busy:.0%} of {t.procs} core(s), {busy} (and "
            f"{t.starved:.0%} waiting for a CPU); machine busy {cpu.machine_busy_s:.2f} s")


def _client_counts(text: str) -> list[int]:
    try:
        counts = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of client counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"client counts must be 1 or more: {text!r}")
    return counts


def _server_names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in SERVERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown server {', '.join(unknown) or '(none)'}; choose from {', '.join(SERVERS)}")
    return names


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value
    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """A user mistake: one line on stderr, exit 2 (argparse prints its usage too)."""
        print(f"bench_side_by_side: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> list[Figure]:
    parser = _Parser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=_client_counts, default=[100, 1000],
                        help="client counts, comma separated")
    parser.add_argument("--seconds", type=_positive(float), default=5.0,
                        help="seconds per server per count")
    parser.add_argument("--client-procs", type=_positive(int), default=2,
                        help="client processes")
    parser.add_argument("--servers", type=_server_names, default=list(SERVERS),
                        help="servers to run: " + ", ".join(SERVERS))
    options = parser.parse_args(argv)
    counts: list[int] = options.clients
    servers: list[str] = options.servers
    if "tftpd-hpa" in servers and not Path(IN_TFTPD).exists():
        print("tftpd-hpa: in.tftpd not installed (scripts/setup.sh installs it); skipped")
        servers.remove("tftpd-hpa")
    raise_nofile()
    print(f"machine: {machine_load()}")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="phonelab-side-") as tmp:
        root = Path(tmp) / "root"
        phones = make_root(root, max(counts) * 2)
        for clients in counts:
            for kind in servers:
                figure = measure(kind, root, phones, clients, options.seconds,
                                 min(options.client_procs, clients))
                figures.append(figure)
                print(describe(figure), flush=True)
            at = [f for f in figures if f.clients == figures[-1].clients]
            for mine in (f for f in at if f.server.startswith("phonelab")):
                for other in (f for f in at if not f.server.startswith("phonelab")):
                    print(f"  {mine.server} / {other.server} at {mine.clients} clients: "
                          f"{_ratio(mine.files_per_s, other.files_per_s):.2f}x files/s, "
                          f"{_ratio(mine.files_per_cpu_s, other.files_per_cpu_s):.2f}x "
                          f"files per server CPU-second")
    if figures and all(f.cpu.tree_s is None for f in figures):
        print("server CPU from /proc only (no task clock here): tftpd-hpa's children are "
              "not counted, so its files per CPU-second read high")
    print(summary_line(figures))
    return figures


def _ratio(mine: float, other: float) -> float:
    return mine / other if other > 0 else math.nan


def summary_line(figures: list[Figure]) -> str:
    clients = 1000 if any(f.clients == 1000 for f in figures) else max(f.clients for f in figures)
    at = {f.server: f for f in figures if f.clients == clients}

    def fps(kind: str) -> float:
        return at[kind].files_per_s if kind in at else math.nan

    def fpcs(kind: str) -> float:
        return at[kind].files_per_cpu_s if kind in at else math.nan

    failures = at["phonelab"].tally.failures if "phonelab" in at else -1
    busy = at["phonelab"].tally.busy if "phonelab" in at else math.nan
    workers = fps("phonelab-workers")
    return (f"side_by_side clients={clients} phonelab_fps={fps('phonelab'):.0f} "
            f"tftpy_fps={fps('tftpy'):.0f} tftpd_hpa_fps={fps('tftpd-hpa'):.0f} "
            f"vs_tftpy={_ratio(fps('phonelab'), fps('tftpy')):.2f} "
            f"vs_tftpd_hpa={_ratio(fps('phonelab'), fps('tftpd-hpa')):.2f} "
            f"phonelab_failures={failures} workers_fps={workers:.0f} "
            f"workers_vs_tftpy={_ratio(workers, fps('tftpy')):.2f} "
            f"phonelab_fpcs={fpcs('phonelab'):.0f} tftpy_fpcs={fpcs('tftpy'):.0f} "
            f"tftpd_hpa_fpcs={fpcs('tftpd-hpa'):.0f} "
            f"cpu_vs_tftpy={_ratio(fpcs('phonelab'), fpcs('tftpy')):.2f} "
            f"cpu_vs_tftpd_hpa={_ratio(fpcs('phonelab'), fpcs('tftpd-hpa')):.2f} "
            f"client_busy={busy:.2f}")


if __name__ == "__main__":
    main()
