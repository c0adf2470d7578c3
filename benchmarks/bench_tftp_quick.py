"""Quick TFTP throughput check: small-file downloads per second with N concurrent clients.

Why: the 1000-phone boot-storm benchmark will hit the TFTP endpoint; this measures
whether the single-threaded server (tftpy's own `TftpServer`, or our `TftpEndpoint`
loop around tftpy transfers) is the bottleneck before that benchmark exists.
Clients are raw UDP state machines in separate processes (cheap per packet, so the
server is what is measured); each download uses a fresh socket, as a booting phone
does. Usage: python benchmarks/bench_tftp_quick.py [--clients 100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import selectors
import socket
import struct
import tempfile
import threading
import time
from pathlib import Path

import tftpy

from harness.events import EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import MappingSource

NAME, SIZE = "SEP001122334455.cnf.xml", 6000


def _client_worker(port: int, concurrency: int, seconds: float,
                   out: mp.Queue[tuple[int, int]]) -> None:
    """Keep `concurrency` downloads in flight until the deadline; report (done, retries)."""
    sel = selectors.DefaultSelector()
    rrq = struct.pack("!H", 1) + NAME.encode() + b"\0octet\0"
    done = retries = 0
    deadline = time.monotonic() + seconds

    def launch() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.sendto(rrq, ("127.0.0.1", port))
        sel.register(sock, selectors.EVENT_READ, [rrq, ("127.0.0.1", port), time.monotonic(), 0])

    for _ in range(concurrency):
        launch()
    while time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            sock, state = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            packet, peer = sock.recvfrom(2048)
            opcode, block = struct.unpack("!HH", packet[:4])
            if opcode != 3:
                raise SystemExit(f"server answered opcode {opcode}: {packet!r}")
            ack = struct.pack("!HH", 4, block)
            sock.sendto(ack, peer)
            state[:3] = [ack, peer, time.monotonic()]
            state[3] += len(packet) - 4
            if len(packet) < 516:
                sel.unregister(sock)
                sock.close()
                done += 1
                launch()
        now = time.monotonic()
        for key in list(sel.get_map().values()):
            if now - key.data[2] > 1.0:  # lost packet: resend our last one
                key.fileobj.sendto(key.data[0], key.data[1])  # type: ignore[union-attr]
                key.data[2] = now
                retries += 1
    out.put((done, retries))


def _measure(port: int, clients: int, procs: int, seconds: float) -> tuple[float, int, float]:
    """(downloads/s, client retransmits, server CPU share): the server is this process."""
    queue: mp.Queue[tuple[int, int]] = mp.Queue()
    cpu = time.process_time()
    workers = [mp.Process(target=_client_worker, args=(port, clients // procs, seconds, queue))
               for _ in range(procs)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 30) for _ in workers]
    cpu = (time.process_time() - cpu) / seconds
    for worker in workers:
        worker.join()
    return sum(done for done, _ in results) / seconds, sum(r for _, r in results), cpu


def bench_stock(clients: int, procs: int, seconds: float) -> tuple[float, int, float]:
    """tftpy's TftpServer serving a real file (its dyn_file_func path crashes, see tftp.py)."""
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / NAME).write_bytes(b"x" * SIZE)
        server = tftpy.TftpServer(root)
        thread = threading.Thread(target=server.listen, args=("127.0.0.1", 0), daemon=True)
        thread.start()
        server.is_running.wait(5)
        try:
            return _measure(server.listenport, clients, procs, seconds)
        finally:
            server.stop(now=True)
            thread.join(10)


def bench_endpoint(clients: int, procs: int, seconds: float) -> tuple[float, int, float]:
    events = EventLog()
    with TftpEndpoint(MappingSource({NAME: b"x" * SIZE}), events) as endpoint:
        result = _measure(endpoint.address[1], clients, procs, seconds)
    assert events.of_kind("tftp.rrq"), "no transfers recorded"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", choices=["stock", "endpoint"])
    args = parser.parse_args()
    benches = {"stock": ("tftpy TftpServer", bench_stock),
               "endpoint": ("TftpEndpoint", bench_endpoint)}
    for key, (label, bench) in benches.items():
        if args.only in (None, key):
            rate, retries, cpu = bench(args.clients, args.procs, args.seconds)
            per = cpu / rate * 1e6 if rate else float("nan")
            print(f"{label:<17} {args.clients:>4} clients, {SIZE} B: {rate:7.1f} downloads/s, "
                  f"server CPU {cpu:4.0%} of a core = {per:.0f} us/download "
                  f"(~{1e6 / per:.0f}/s on a whole core), {retries} client retransmits")


if __name__ == "__main__":
    main()
