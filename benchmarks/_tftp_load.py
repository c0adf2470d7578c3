"""A TFTP load of phones, shared by the endpoint and side-by-side benchmarks.

Why hand-written: the load must behave like firmware (one lock-step download at a
time per phone, a fresh socket per download from the phone's own address, a resend
after 1 s of silence, a bounded number of tries) while costing as little CPU per
packet as possible, because on a small host the client shares the cores with the
server it measures. tftpy's client is one blocking download per object and cannot
hold a thousand phones in one process; this is a raw UDP state machine per phone on
one epoll, several processes of it in parallel.

Cheap per packet: ACKs are prebuilt, a socket is connected to the server's transfer
port after its first DATA (recv/send, no address per packet; datagrams from other
ports are dropped by the kernel, as a phone ignores them), and the clock is read
once per batch of ready sockets rather than per packet.
"""

from __future__ import annotations

import multiprocessing as mp
import select
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import cast

from _common import raise_nofile

RRQ, DATA, ACK, ERROR = 1, 3, 4, 5
RESEND_AFTER = 1.0  # a phone's per-packet timeout (twin fast profile)
TRIES = 4  # sends of one packet before a phone gives the download up
_ACKS = [struct.pack("!HH", ACK, block) for block in range(65536)]


@dataclass(frozen=True)
class Phone:
    """One phone: the address it asks from and its downloads in order (name, size)."""

    address: str
    files: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class LoadTally:
    """What the clients counted, and what they cost."""

    files: int  # downloads complete with the expected size
    failures: int  # ERROR answers, wrong sizes, a server silent for every try
    retransmits: int
    cpu_s: float  # CPU of the client processes while loading
    procs: int = 1
    seconds: float = 0.0  # each process's load phase
    wait_s: float = 0.0  # time the client processes were ready to run but had no CPU

    @property
    def busy(self) -> float:
        """Share of their cores the client processes used (1.0: the client was the limit)."""
        return self.cpu_s / (self.procs * self.seconds) if self.seconds > 0 else float("nan")

    @property
    def starved(self) -> float:
        """Share of the phase the clients waited for a CPU others held (a shared host)."""
        return self.wait_s / (self.procs * self.seconds) if self.seconds > 0 else float("nan")

    def __add__(self, other: LoadTally) -> LoadTally:
        return LoadTally(self.files + other.files, self.failures + other.failures,
                         self.retransmits + other.retransmits, self.cpu_s + other.cpu_s,
                         self.procs + other.procs, max(self.seconds, other.seconds),
                         self.wait_s + other.wait_s)


class _Download:
    __slots__ = ("connected", "expected", "files", "last", "phone", "sent_at", "size", "sock",
                 "step", "tries", "want")

    def __init__(self, phone: int) -> None:
        self.phone, self.step = phone, 0
        self.sock = cast(socket.socket, None)  # set at launch
        self.files: tuple[tuple[str, int], ...] = ()
        self.last, self.sent_at, self.tries, self.connected = b"", 0.0, 0, False
        self.expected, self.size, self.want = 1, 0, 0


def load(server: tuple[str, int], phones: Sequence[Phone], concurrency: int, offset: int,
         seconds: float, tries: int | None = TRIES) -> LoadTally:
    """Keep `concurrency` phones (slots from `offset`) downloading for `seconds`.

    Each slot is a phone fetching its files in order, then the phone `concurrency` further
    on. `tries=None` resends for ever instead of giving up (a phone that never gives up)."""
    raise_nofile()
    poller = select.epoll()
    live: dict[int, _Download] = {}
    files = failures = retransmits = 0
    cpu, waited = time.process_time(), _run_queue_wait_s()
    deadline = time.monotonic() + seconds
    next_scan = 0.0

    def launch(download: _Download, now: float) -> None:
        phone = phones[download.phone]
        name, download.want = phone.files[download.step]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        sock.bind((phone.address, 0))  # each phone asks from its own address
        download.sock, download.files, download.connected = sock, phone.files, False
        download.expected, download.size, download.tries, download.sent_at = 1, 0, 1, now
        download.last = struct.pack("!H", RRQ) + name.encode() + b"\0octet\0"
        sock.sendto(download.last, server)
        live[sock.fileno()] = download
        poller.register(sock.fileno(), select.EPOLLIN)

    def advance(download: _Download, now: float) -> None:
        del live[download.sock.fileno()]
        download.sock.close()  # closing also takes it off the epoll
        download.step += 1
        if download.step == len(download.files):  # this phone is done: the slot's next one
            download.phone = (download.phone + concurrency) % len(phones)
            download.step = 0
        launch(download, now)

    now = time.monotonic()
    for slot in range(concurrency):
        launch(_Download((offset + slot) % len(phones)), now)
    while now < deadline:
        ready = poller.poll(min(0.1, deadline - now))
        now = time.monotonic()
        for fd, _ in ready:
            download = live.get(fd)
            if download is None:
                continue
            sock = download.sock
            try:
                if download.connected:
                    packet = sock.recv(1024)
                else:
                    packet, peer = sock.recvfrom(1024)
                    sock.connect(peer)  # the server's transfer port, for the rest of it
                    download.connected = True
            except (BlockingIOError, ConnectionRefusedError):
                continue
            if len(packet) < 4 or packet[1] != DATA or packet[0]:
                failures += 1
                advance(download, now)
                continue
            block = packet[2] << 8 | packet[3]
            if block == download.expected:
                download.size += len(packet) - 4
                download.expected += 1
            download.last = _ACKS[block]
            sock.send(download.last)
            download.sent_at, download.tries = now, 1
            if len(packet) < 516 and block == download.expected - 1:
                if download.size == download.want:
                    files += 1
                else:
                    failures += 1
                advance(download, now)
        if now >= next_scan:  # silence: resend, or give up as a phone
            next_scan = now + RESEND_AFTER / 4
            for download in list(live.values()):
                if now - download.sent_at > RESEND_AFTER:
                    if tries is not None and download.tries >= tries:
                        failures += 1
                        advance(download, now)
                        continue
                    if download.connected:
                        download.sock.send(download.last)
                    else:
                        download.sock.sendto(download.last, server)
                    download.sent_at, download.tries = now, download.tries + 1
                    retransmits += 1
    cpu, waited = time.process_time() - cpu, _run_queue_wait_s() - waited
    for download in live.values():
        download.sock.close()
    poller.close()
    return LoadTally(files, failures, retransmits, cpu, 1, seconds, waited)


def _run_queue_wait_s() -> float:
    """Seconds this (single-threaded) process has waited on a run queue; 0 without schedstat."""
    try:
        with open("/proc/self/schedstat") as schedstat:
            return int(schedstat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _load_process(server: tuple[str, int], phones: Sequence[Phone], concurrency: int,
                  offset: int, seconds: float, tries: int | None, out: Connection) -> None:
    out.send(load(server, phones, concurrency, offset, seconds, tries))


class LoadProcesses:
    """`clients` phones split over `procs` spawned processes, started together.

    Start them, do what must happen while they load, then `tally()` waits for them all."""

    def __init__(self, server: tuple[str, int], phones: Sequence[Phone], clients: int,
                 procs: int, seconds: float, tries: int | None = TRIES) -> None:
        ctx = mp.get_context("spawn")  # no fork of a parent that may hold threads
        self.share = max(1, clients // procs)
        self.seconds = seconds
        self._pipes: list[Connection] = []
        self._procs = []
        for i in range(procs):
            mine, theirs = ctx.Pipe()
            self._pipes.append(mine)
            self._procs.append(ctx.Process(
                target=_load_process, daemon=True,
                args=(server, phones, self.share, i * self.share, seconds, tries, theirs)))

    @property
    def clients(self) -> int:
        return self.share * len(self._procs)

    def start(self) -> LoadProcesses:
        for proc in self._procs:
            proc.start()
        return self

    def tally(self) -> LoadTally:
        """The processes' tallies summed; a process that sends none is an error."""
        total: LoadTally | None = None
        try:
            for pipe in self._pipes:
                if not pipe.poll(self.seconds + 60):
                    raise RuntimeError("a TFTP load process gave no tally")
                tally: LoadTally = pipe.recv()
                total = tally if total is None else total + tally
        finally:
            for proc in self._procs:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
        assert total is not None
        return total
