"""The twin phone's TFTP client: asyncio, one UDP socket per transfer.

Hand-written because tftpy's client is blocking (one thread per download) and
a boot storm runs a thousand phones on two cores. It speaks RFC 1350 with the
RFC 2347/2348 options phones may send, binds the phone's own loopback address
so the server (and captures) see which phone asked, and bounds every wait.
"""

from __future__ import annotations

import asyncio
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
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))


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
    transport, proto = await loop.create_datagram_endpoint(_Transfer, local_addr=(local_host, 0))
    try:
        return await _receive(transport, proto, server, _request(name, opts), opts)
    finally:
        transport.close()


async def _receive(transport: asyncio.DatagramTransport, proto: _Transfer,
                   server: tuple[str, int], request: bytes, opts: TftpOptions) -> bytes:
    blksize = 512
    chunks: list[bytes] = []
    expected = 1
    last_sent, peer = request, server
    tid: tuple[str, int] | None = None
    transport.sendto(request, server)
    tries = 0
    while True:
        try:
            data, addr = await asyncio.wait_for(proto.queue.get(), opts.timeout)
        except TimeoutError:
            tries += 1
            if tries > opts.retries:
                raise TftpTimeout(f"no TFTP answer from {server[0]}:{server[1]}") from None
            transport.sendto(last_sent, peer)
            continue
        if tid is not None and addr != tid:
            transport.sendto(struct.pack("!HH", ERROR, 5) + b"Unknown transfer ID\0", addr)
            continue
        if len(data) < 4:
            continue
        opcode, arg = struct.unpack("!HH", data[:4])
        tid, peer, tries = addr, addr, 0
        if opcode == ERROR:
            raise TftpError(arg, data[4:].split(b"\0", 1)[0].decode("ascii", "replace"))
        if opcode == OACK:
            fields = data[2:].split(b"\0")
            values = dict(zip(fields[0::2], fields[1::2], strict=False))
            if b"blksize" in values:
                blksize = int(values[b"blksize"])
            last_sent = struct.pack("!HH", ACK, 0)
        elif opcode == DATA and arg == expected:
            chunks.append(data[4:])
            last_sent = struct.pack("!HH", ACK, arg)
            expected = (expected + 1) & 0xFFFF
            if len(data) - 4 < blksize:
                transport.sendto(last_sent, peer)
                return b"".join(chunks)
        elif opcode == DATA:  # duplicate of an old block: re-acknowledge it
            last_sent = struct.pack("!HH", ACK, arg)
        else:
            continue
        transport.sendto(last_sent, peer)
