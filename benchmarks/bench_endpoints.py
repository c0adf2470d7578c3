"""Endpoint throughput of a real cluster: TFTP files/s and TVS verifications/s.

Why: the boot-storm figure mixes everything; this isolates the two endpoints a
booting rack leans on, serving what a real `Cluster` publishes for N phone
records. TFTP: `--tftp-clients` concurrent simulated phones, each downloading its
own `ITLSEP<MAC>.tlv` (the cluster ITL) then its `SEP<MAC>.cnf.xml.sgn`, in 512-byte
blocks as phones ask, from its own loopback address, then moving on to the next
phone. TVS: `bench_tvs.measure` at `--tvs-clients` concurrent TLS clients, one
handshake per VERIFY of the cluster's Tomcat certificate, as phones do. The
cluster runs in this process; clients run in separate processes, so the server
has its own GIL. Each phase lasts `--seconds` and stops by itself.

    python benchmarks/bench_endpoints.py [--phones 1000] [--seconds 3]

The last line is machine-readable:
    endpoints tftp_files_per_s=<n> tvs_verify_per_s=<n>
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import selectors
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

import bench_tvs
from _common import machine_load, raise_nofile, running_cluster

from lab_topology import phone_address
from lab_topology.generate import twin_lab

RRQ, DATA, ACK, ERROR = 1, 3, 4, 5
RESEND_AFTER = 1.0  # a phone's per-packet TFTP timeout


@dataclass(frozen=True)
class TftpTally:
    files: int
    retransmits: int
    errors: int  # ERROR packets or wrong sizes


@dataclass(frozen=True)
class EndpointFigures:
    tftp_files_per_s: float
    tvs_verify_per_s: float

    def line(self) -> str:
        return (f"endpoints tftp_files_per_s={self.tftp_files_per_s:.0f} "
                f"tvs_verify_per_s={self.tvs_verify_per_s:.0f}")


class _Download:
    """One simulated phone's current download: a raw UDP state machine (cheap per packet)."""

    def __init__(self, phone: int, step: int) -> None:
        self.phone, self.step = phone, step
        self.sock: socket.socket | None = None
        self.last, self.peer, self.sent_at = b"", ("", 0), 0.0
        self.expected, self.size = 1, 0


def _tftp_clients(server: tuple[str, int], phones: list[tuple[str, str]],
                  sizes: dict[str, int], concurrency: int, offset: int, seconds: float,
                  out: mp.Queue[TftpTally]) -> None:
    """Keep `concurrency` phones downloading until the deadline; report a tally."""
    sel = selectors.DefaultSelector()
    files = retransmits = errors = 0
    deadline = time.monotonic() + seconds
    next_scan = 0.0

    def names(index: int) -> tuple[str, str]:
        mac = phones[index][1]
        return f"ITLSEP{mac}.tlv", f"SEP{mac}.cnf.xml.sgn"

    def launch(download: _Download) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((phones[download.phone][0], 0))
        sock.setblocking(False)
        name = names(download.phone)[download.step]
        download.sock, download.expected, download.size = sock, 1, 0
        download.last = struct.pack("!H", RRQ) + name.encode() + b"\0octet\0"
        download.peer, download.sent_at = server, time.monotonic()
        sock.sendto(download.last, server)
        sel.register(sock, selectors.EVENT_READ, download)

    def advance(download: _Download) -> None:
        assert download.sock is not None
        sel.unregister(download.sock)
        download.sock.close()
        download.step += 1
        if download.step == 2:  # this phone is done: take the next one of this client
            download.phone = (download.phone + concurrency) % len(phones)
            download.step = 0
        launch(download)

    for slot in range(concurrency):
        launch(_Download((offset + slot) % len(phones), 0))
    while (now := time.monotonic()) < deadline:
        for key, _ in sel.select(min(0.2, deadline - now)):
            download = key.data
            try:
                packet, peer = download.sock.recvfrom(2048)
            except BlockingIOError:
                continue
            opcode, block = struct.unpack("!HH", packet[:4])
            if opcode != DATA:
                errors += 1
                advance(download)
                continue
            if block == download.expected:
                download.size += len(packet) - 4
                download.expected += 1
            download.last, download.peer = struct.pack("!HH", ACK, block), peer
            download.sock.sendto(download.last, peer)
            download.sent_at = time.monotonic()
            if len(packet) < 516 and block == download.expected - 1:
                name = names(download.phone)[download.step]
                if download.size == sizes[name]:
                    files += 1
                else:
                    errors += 1
                advance(download)
        if (now := time.monotonic()) >= next_scan:  # lost packets: resend our last one
            next_scan = now + RESEND_AFTER / 4
            for key in list(sel.get_map().values()):
                download = key.data
                if now - download.sent_at > RESEND_AFTER:
                    download.sock.sendto(download.last, download.peer)
                    download.sent_at = now
                    retransmits += 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    out.put(TftpTally(files, retransmits, errors))


def measure_tftp(server: tuple[str, int], phones: list[tuple[str, str]], sizes: dict[str, int],
                 *, clients: int = 100, procs: int = 1,
                 seconds: float = 3.0) -> tuple[TftpTally, float]:
    """(tally, CPU seconds this process used meanwhile): the server is this process."""
    ctx = mp.get_context("spawn")
    out: mp.Queue[TftpTally] = ctx.Queue()
    share = max(1, clients // procs)
    workers = [ctx.Process(target=_tftp_clients, daemon=True,
                           args=(server, phones, sizes, share, i * share, seconds, out))
               for i in range(procs)]
    for worker in workers:
        worker.start()
    time.sleep(0.05)
    cpu = time.process_time()
    tallies = [out.get(timeout=seconds + 60) for _ in workers]
    cpu = time.process_time() - cpu
    for worker in workers:
        worker.join(10)
    return TftpTally(sum(t.files for t in tallies), sum(t.retransmits for t in tallies),
                     sum(t.errors for t in tallies)), cpu


def run(phones: int = 1000, *, seconds: float = 3.0, tftp_clients: int = 100,
        tvs_clients: int = 50, procs: int = 1, quiet: bool = False) -> EndpointFigures:
    say = (lambda *_a: None) if quiet else print
    raise_nofile()
    lab = twin_lab(phones)
    rack = lab.racks[0]
    say(f"machine: {machine_load()}")
    with running_cluster(lab) as (cluster, info, events):
        say(f"cluster of {phones} phone records up in {info.setup_s:.1f} s: {info.files} files")
        who = [(str(phone_address(lab, rack, p)), p.name[3:]) for p in rack.phones]
        sizes = {}
        for _, mac in who:
            for name in (f"ITLSEP{mac}.tlv", f"SEP{mac}.cnf.xml.sgn"):
                data = cluster.served(name)
                assert data is not None, f"the cluster does not serve {name}"
                sizes[name] = len(data)
        itl, cnf = sizes[f"ITLSEP{who[0][1]}.tlv"], sizes[f"SEP{who[0][1]}.cnf.xml.sgn"]
        mark = events.mark()
        tally, cpu = measure_tftp(info.tftp[0], who, sizes, clients=tftp_clients, procs=procs,
                                  seconds=seconds)
        tftp_rate = tally.files / seconds
        served = sum(1 for e in events.since(mark)
                     if e.kind == "tftp.rrq" and e.data.get("result") == "ok")
        say(f"TFTP: {tftp_clients} concurrent clients in {procs} process(es), ITL {itl} B + "
            f"signed config {cnf} B per phone: {tftp_rate:.0f} files/s, server CPU "
            f"{cpu / seconds:.0%} of a core = {cpu / max(served, 1) * 1e6:.0f} us/file, i.e. "
            f"~{served / max(cpu, 1e-9):.0f} files/s on a whole core ({served} served, "
            f"{tally.retransmits} client retransmits, {tally.errors} errors)")
        mark = events.mark()
        cpu = time.process_time()
        tvs_rate = bench_tvs.measure(info.tvs[0], info.tvs_der, info.tomcat_der,
                                     clients=tvs_clients, seconds=seconds)
        cpu = time.process_time() - cpu
        verified = [e for e in events.since(mark) if e.kind == "tvs.verify"]
        invalid = sum(1 for e in verified if e.data.get("status") != "valid")
        tvs_errors = sum(1 for e in events.since(mark) if e.kind == "tvs.error")
        say(f"TVS: {tvs_clients} concurrent TLS clients, one handshake per VERIFY: "
            f"{tvs_rate:.0f} verifications/s, server CPU about "
            f"{cpu / max(len(verified), 1) * 1e6:.0f} us/verify ({invalid} invalid, "
            f"{tvs_errors} tvs.error)")
    say(f"machine: {machine_load()}")
    if tally.errors or invalid:
        raise SystemExit(f"wrong answers: {tally.errors} TFTP, {invalid} TVS")
    return EndpointFigures(tftp_rate, tvs_rate)


def main(argv: Sequence[str] | None = None) -> EndpointFigures:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=1000, help="phone records in the cluster")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each phase")
    parser.add_argument("--tftp-clients", type=int, default=100)
    parser.add_argument("--tvs-clients", type=int, default=50)
    parser.add_argument("--procs", type=int, default=1, help="TFTP client processes")
    options = parser.parse_args(argv)
    figures = run(options.phones, seconds=options.seconds, tftp_clients=options.tftp_clients,
                  tvs_clients=options.tvs_clients, procs=options.procs)
    print(figures.line())
    return figures


if __name__ == "__main__":
    main()
