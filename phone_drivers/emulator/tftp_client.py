"""The twin phone's TFTP client: asyncio, one UDP socket per transfer.

Hand-written because tftpy's client is blocking (one thread per download) and
a boot storm runs a thousand phones on two cores. It speaks RFC 1350 with the
RFC 2347/2348 options phones may send, binds the phone's own loopback address
so the server (and captures) see which phone asked, and bounds every wait.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass

RRQ, DATA, ACK, ERROR, OACK = 1, 3, 4, 5, 6


class TftpError(Exception):
    """The server answered with an ERROR packet (code 1 = file not found)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"TFTP error {code}: {message}")
        self.code = code
        self.message = message


class TftpTimeout(TimeoutError):
    """No answer within the retry budget."""


@dataclass(frozen=True)
class TftpOptions:
    blksize: int | None = None  # None: plain RRQ, 512-byte blocks (79xx never sends options)
    timeout: float = 1.0  # per packet
    retries: int = 4


class _Transfer(asyncio.DatagramProtocol):
    """One download, driven by the loop's callbacks: each datagram is handled where it
    arrives and one timer per transfer watches for silence. (A task awaiting a queue
    with `wait_for` per packet cost a task, a timer and a queue hop per block, which
    was a third of a 1,000-phone boot storm's CPU.)"""

    def __init__(self, server: tuple[str, int], request: bytes, opts: TftpOptions,
                 done: asyncio.Future[bytes]) -> None:
        self.server, self.opts, self.done = server, opts, done
        self.loop = done.get_loop()
        self.transport: asyncio.DatagramTransport | None = None
        self.blksize, self.expected, self.tries = 512, 1, 0
        self.chunks: list[bytes] = []
        self.last_sent, self.peer = request, server
        self.tid: tuple[str, int] | None = None
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send(self.last_sent, self.peer)

    def _send(self, packet: bytes, peer: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(packet, peer)
        self.deadline = self.loop.time() + self.opts.timeout
        if self.timer is None:  # re-armed lazily in _check: one timer per silence period
            self.timer = self.loop.call_at(self.deadline, self._check)

    def _check(self) -> None:
        self.timer = None
        if self.done.done() or self.transport is None or self.transport.is_closing():
            return  # finished, or closed under us (the fetch was cancelled while connecting)
        if self.loop.time() < self.deadline:
            self.timer = self.loop.call_at(self.deadline, self._check)
            return
        self.tries += 1
        if self.tries > self.opts.retries:
            self.done.set_exception(TftpTimeout(
                f"no TFTP answer from {self.server[0]}:{self.server[1]}"))
            return
        self._send(self.last_sent, self.peer)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.done.done():
            return
        if self.tid is not None and addr != self.tid:
            assert self.transport is not None
            self.transport.sendto(struct.pack("!HH", ERROR, 5) + b"Unknown transfer ID\0", addr)
            return
        if len(data) < 4:
            return
        opcode, arg = struct.unpack("!HH", data[:4])
        self.tid, self.peer, self.tries = addr, addr, 0
        if opcode == ERROR:
            message = data[4:].split(b"\0", 1)[0].decode("ascii", "replace")
            self.done.set_exception(TftpError(arg, message))
            return
        if opcode == OACK:
            fields = data[2:].split(b"\0")
            values = dict(zip(fields[0::2], fields[1::2], strict=False))
            if b"blksize" in values:
                self.blksize = int(values[b"blksize"])
            self.last_sent = struct.pack("!HH", ACK, 0)
        elif opcode == DATA and arg == self.expected:
            self.chunks.append(data[4:])
            self.last_sent = struct.pack("!HH", ACK, arg)
            self.expected = (self.expected + 1) & 0xFFFF
            if len(data) - 4 < self.blksize:
                assert self.transport is not None
                self.transport.sendto(self.last_sent, self.peer)
                self.done.set_result(b"".join(self.chunks))
                return
        elif opcode == DATA:  # duplicate of an old block: re-acknowledge it
            self.last_sent = struct.pack("!HH", ACK, arg)
        else:
            return
        self._send(self.last_sent, self.peer)


def _request(name: str, options: TftpOptions) -> bytes:
    packet = struct.pack("!H", RRQ) + name.encode() + b"\0octet\0"
    if options.blksize:
        packet += b"blksize\0" + str(options.blksize).encode() + b"\0"
    return packet


async def fetch(server: tuple[str, int], name: str, *, local_host: str = "127.0.0.1",
                options: TftpOptions | None = None) -> bytes:
    """Download `name` from `server`; raises TftpError or TftpTimeout."""
    opts = options or TftpOptions()
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((local_host, 0))  # the phone's own address: the server sees who asks
    except BaseException:
        sock.close()
        raise
    done: asyncio.Future[bytes] = loop.create_future()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Transfer(server, _request(name, opts), opts, done), sock=sock)
    try:
        return await done
    finally:
        proto.stop()
        transport.close()
