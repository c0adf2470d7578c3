"""TFTP side by side: phonelab's endpoint, stock tftpy's server and tftpd-hpa, same client.

Why: "phonelab's TFTP stands a boot storm" only means something next to the servers
people already run. One run starts each server in turn on the same directory (the
cluster ITL and one signed config per phone, realistic sizes), points the same load
at it and counts what phones would: a download is a failure when its server is silent
for a phone's whole retry budget (4 tries, 1 s apart), answers with an ERROR, or
delivers the wrong number of bytes. Each client slot is a phone downloading
`ITLFile.tlv` then its `SEP<MAC>.cnf.xml.sgn` in 512-byte blocks from a fresh socket,
then the next phone's; clients are raw UDP state machines in separate processes so the
server is what is measured. Every server runs in a process of its own (phonelab's and
tftpy's spawned here, tftpd-hpa as Debian's in.tftpd), and every phase ends after
`--seconds`.

    python benchmarks/bench_side_by_side.py [--clients 100,1000] [--seconds 5]

The last line is machine-readable (1,000 clients, or the largest count run):
    side_by_side clients=<n> phonelab_fps=<x> tftpy_fps=<x> tftpd_hpa_fps=<x>
    vs_tftpy=<x> vs_tftpd_hpa=<x> phonelab_failures=<n> workers_fps=<x> workers_vs_tftpy=<x>
`phonelab-workers` is the same endpoint in WORKERS processes sharing the port with
SO_REUSEPORT (harness/cluster/workers.py), as the multi-core cluster runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import multiprocessing as mp
import os
import selectors
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from _common import machine_load, raise_nofile

RRQ, DATA, ACK, ERROR = 1, 3, 4, 5
RESEND_AFTER, TRIES = 1.0, 4  # a phone's per-packet timeout and tries (twin fast profile)
ITL_SIZE, CONFIG_SIZE = 4_400, 6_100  # bytes: a one-node ITL, a signed SIP config
IN_TFTPD = shutil.which("in.tftpd") or "/usr/sbin/in.tftpd"
SERVERS = ("phonelab", "phonelab-workers", "tftpy", "tftpd-hpa")
WORKERS = 2  # phonelab-workers: endpoints sharing the port with SO_REUSEPORT


@dataclass(frozen=True)
class Tally:
    files: int
    failures: int
    retransmits: int


@dataclass(frozen=True)
class Figure:
    server: str
    clients: int
    seconds: float
    tally: Tally

    @property
    def files_per_s(self) -> float:
        return self.tally.files / self.seconds


def make_root(directory: Path, phones: int) -> list[str]:
    """The served directory: ITLFile.tlv and SEP<MAC>.cnf.xml.sgn per phone; the MACs."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ITLFile.tlv").write_bytes(os.urandom(ITL_SIZE))
    macs = [f"{0xA0000000 + i:012X}" for i in range(phones)]
    for mac in macs:
        (directory / f"SEP{mac}.cnf.xml.sgn").write_bytes(os.urandom(CONFIG_SIZE))
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)
    return macs


def phone_address(index: int) -> str:
    """The twin lab's address for phone `index` (127.30.0.1 on)."""
    return f"127.{30 + index // 65000}.{(index % 65000) // 250}.{index % 250 + 1}"


class _Download:
    def __init__(self, phone: int) -> None:
        self.phone, self.step = phone, 0
        self.sock: socket.socket | None = None
        self.last, self.peer, self.sent_at, self.tries = b"", ("", 0), 0.0, 0
        self.expected, self.size = 1, 0


def _clients(server: tuple[str, int], macs: list[str], concurrency: int, offset: int,
             seconds: float, out: Connection) -> None:
    """Keep `concurrency` phones downloading until the deadline; send back a Tally."""
    raise_nofile()
    sel = selectors.DefaultSelector()
    files = failures = retransmits = 0
    deadline = time.monotonic() + seconds
    next_scan = 0.0

    def name(download: _Download) -> str:
        return "ITLFile.tlv" if download.step == 0 else f"SEP{macs[download.phone]}.cnf.xml.sgn"

    def size(download: _Download) -> int:
        return ITL_SIZE if download.step == 0 else CONFIG_SIZE

    def launch(download: _Download) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind((phone_address(download.phone), 0))  # each phone asks from its own address
        download.sock, download.expected, download.size, download.tries = sock, 1, 0, 1
        download.last = struct.pack("!H", RRQ) + name(download).encode() + b"\0octet\0"
        download.peer, download.sent_at = server, time.monotonic()
        sock.sendto(download.last, server)
        sel.register(sock, selectors.EVENT_READ, download)

    def advance(download: _Download) -> None:
        assert download.sock is not None
        sel.unregister(download.sock)
        download.sock.close()
        download.step += 1
        if download.step == 2:  # this phone is done: the next phone of this slot
            download.phone = (download.phone + concurrency) % len(macs)
            download.step = 0
        launch(download)

    for slot in range(concurrency):
        launch(_Download((offset + slot) % len(macs)))
    while (now := time.monotonic()) < deadline:
        for key, _ in sel.select(min(0.1, deadline - now)):
            download = key.data
            try:
                packet, peer = download.sock.recvfrom(2048)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            opcode, block = struct.unpack("!HH", packet[:4])
            if opcode != DATA:
                failures += 1
                advance(download)
                continue
            if block == download.expected:
                download.size += len(packet) - 4
                download.expected += 1
            download.last, download.peer = struct.pack("!HH", ACK, block), peer
            download.sock.sendto(download.last, peer)
            download.sent_at, download.tries = time.monotonic(), 1
            if len(packet) < 516 and block == download.expected - 1:
                if download.size == size(download):
                    files += 1
                else:
                    failures += 1
                advance(download)
        if (now := time.monotonic()) >= next_scan:  # silence: resend, or give up as a phone
            next_scan = now + RESEND_AFTER / 4
            for key in list(sel.get_map().values()):
                download = key.data
                if now - download.sent_at > RESEND_AFTER:
                    if download.tries >= TRIES:
                        failures += 1
                        advance(download)
                        continue
                    download.sock.sendto(download.last, download.peer)
                    download.sent_at, download.tries = now, download.tries + 1
                    retransmits += 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    out.send(Tally(files, failures, retransmits))


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


@contextlib.contextmanager
def serving(kind: str, root: Path) -> Iterator[tuple[str, int]]:
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
            yield ("127.0.0.1", port)
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
        yield ("127.0.0.1", port)
    finally:
        for mine, child in zip(pipes, children, strict=True):
            with contextlib.suppress(OSError):
                mine.send("stop")
            child.join(10)
            if child.is_alive():
                child.kill()
                child.join(5)


def measure(kind: str, root: Path, macs: list[str], clients: int, seconds: float,
            procs: int) -> Figure:
    ctx = mp.get_context("spawn")
    with serving(kind, root) as server:
        share = max(1, clients // procs)
        pipes, workers = [], []
        for i in range(procs):
            mine, theirs = ctx.Pipe()
            pipes.append(mine)
            workers.append(ctx.Process(target=_clients, daemon=True,
                                       args=(server, macs, share, i * share, seconds, theirs)))
        for worker in workers:
            worker.start()
        tallies = []
        for pipe in pipes:
            if not pipe.poll(seconds + 60):
                raise RuntimeError("a client process gave no tally")
            tallies.append(pipe.recv())
        for worker in workers:
            worker.join(10)
    total = Tally(sum(t.files for t in tallies), sum(t.failures for t in tallies),
                  sum(t.retransmits for t in tallies))
    return Figure(kind, share * procs, seconds, total)


def main(argv: Sequence[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="100,1000", help="client counts, comma separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per server per count")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="servers to run: phonelab, phonelab-workers, tftpy, tftpd-hpa")
    options = parser.parse_args(argv)
    counts = [int(c) for c in options.clients.split(",") if c.strip()]
    servers = [s.strip() for s in options.servers.split(",") if s.strip()]
    if "tftpd-hpa" in servers and not Path(IN_TFTPD).exists():
        print("tftpd-hpa: in.tftpd not installed (scripts/setup.sh installs it); skipped")
        servers.remove("tftpd-hpa")
    raise_nofile()
    print(f"machine: {machine_load()}")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="phonelab-side-") as tmp:
        root = Path(tmp) / "root"
        macs = make_root(root, max(counts) * 2)
        for clients in counts:
            for kind in servers:
                figure = measure(kind, root, macs, clients, options.seconds,
                                 min(options.client_procs, clients))
                figures.append(figure)
                t = figure.tally
                print(f"{kind:>16} {figure.clients:>5} clients: {figure.files_per_s:7.0f} files/s, "
                      f"{t.failures} failures, {t.retransmits} retransmits "
                      f"({machine_load()})", flush=True)
            ours = [f for f in figures if f.clients == clients and f.server.startswith("phonelab")]
            for mine in ours:
                for other in (f for f in figures if f.clients == clients
                              and not f.server.startswith("phonelab")):
                    print(f"  {mine.server} / {other.server} at {clients} clients: "
                          f"{mine.files_per_s / max(other.files_per_s, 1e-9):.2f}x")
    print(summary_line(figures))
    return figures


def summary_line(figures: list[Figure]) -> str:
    clients = 1000 if any(f.clients == 1000 for f in figures) else max(f.clients for f in figures)
    at = {f.server: f for f in figures if f.clients == clients}

    def fps(kind: str) -> float:
        return at[kind].files_per_s if kind in at else float("nan")

    def ratio(kind: str) -> float:
        return fps("phonelab") / fps(kind) if fps(kind) > 0 else float("nan")

    failures = at["phonelab"].tally.failures if "phonelab" in at else -1
    workers = fps("phonelab-workers")
    return (f"side_by_side clients={clients} phonelab_fps={fps('phonelab'):.0f} "
            f"tftpy_fps={fps('tftpy'):.0f} tftpd_hpa_fps={fps('tftpd-hpa'):.0f} "
            f"vs_tftpy={ratio('tftpy'):.2f} vs_tftpd_hpa={ratio('tftpd-hpa'):.2f} "
            f"phonelab_failures={failures} workers_fps={workers:.0f} "
            f"workers_vs_tftpy={workers / fps('tftpy') if fps('tftpy') > 0 else math.nan:.2f}")


if __name__ == "__main__":
    main()
