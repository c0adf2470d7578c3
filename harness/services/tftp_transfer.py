"""One TFTP read transfer, server side: RFC 1350 lock-step DATA/ACK, with the RFC 2347
option acknowledgement for blksize (RFC 2348) and tsize (RFC 2349), on its own
connected UDP socket (the transfer ID), driven by the endpoint's loop in `tftp.py`.

Hand-written in place of tftpy's `TftpContextServer`, which builds packet objects, a
state object and a dozen debug-log calls for every block: measured, that was about
85% of the endpoint's CPU (~290 us of Python per 12-block download on one core against
~70-90 us here; beside that every server pays ~85 us of kernel time per download on
loopback; benchmarks/bench_side_by_side.py, bench_endpoints.py). This class only turns a
datagram or a clock tick into the next packet; the endpoint owns readiness and
outcome events. Stale duplicate ACKs are ignored rather than answered, so a delayed
ACK never doubles the traffic (the "Sorcerer's Apprentice" bug of RFC 1350). The
endpoint leaves the transfer socket unconnected so that it sees datagrams from other
ports too and can answer them with ERROR 5 without disturbing the transfer (RFC 1350).
"""

from __future__ import annotations

import contextlib
import socket
import struct

from harness.services.tftp_files import Body

DATA, ACK, ERROR, OACK = 3, 4, 5, 6
_DATA_HEAD = struct.Struct("!HH")


class TransferError(Exception):
    """The transfer cannot go on: the client sent an error or garbage, or went silent."""


class ReadTransfer:
    """Serves `data` (bytes, or a file read block by block when sent) to the peer `sock`
    is connected to; `options` as negotiated (already filtered and clamped by
    `tftp_files.supported_options`, in the client's order)."""

    __slots__ = ("blksize", "block", "data", "last_block", "packet", "peer", "retry_count",
                 "sent_at", "sock")

    def __init__(self, sock: socket.socket, data: Body, options: dict[str, str],
                 peer: tuple[str, int] | None = None) -> None:
        self.sock, self.data = sock, data
        self.peer = peer  # None: `sock` is connected to the client
        self.blksize = int(options.get("blksize", 512))
        self.last_block = len(data) // self.blksize + 1  # the last block is short, maybe empty
        self.retry_count, self.sent_at = 0, 0.0
        if options:  # OACK first, echoing what was asked; DATA 1 follows its ACK 0
            agreed = {key: str(len(data)) if key == "tsize" else value
                      for key, value in options.items()}
            self.block = 0
            self.packet = struct.pack("!H", OACK) + b"".join(
                f"{key}\0{value}\0".encode() for key, value in agreed.items())
        else:
            self.block = 1
            self.packet = self._data(1)

    @property
    def bytes_sent(self) -> int:
        """Payload bytes sent so far (each block counted once)."""
        return min(len(self.data), self.block * self.blksize)

    def start(self, now: float) -> None:
        self._send(now)

    def receive(self, packet: bytes, now: float) -> bool:
        """Handle one datagram from the client; True once the last block is acknowledged."""
        if len(packet) < 4:
            raise TransferError(f"malformed {len(packet)}-byte packet on the transfer port")
        opcode, number = _DATA_HEAD.unpack_from(packet)
        if opcode == ERROR:
            text = packet[4:].split(b"\0", 1)[0].decode("ascii", "replace")
            raise TransferError(f"client sent error {number}: {text}")
        if opcode != ACK:
            raise TransferError(f"opcode {opcode} where an ACK was expected")
        if number != self.block & 0xFFFF:
            return False  # a stale duplicate: the timer resends if ours was really lost
        if self.block == self.last_block:
            return True
        self.block += 1
        self.retry_count = 0
        self.packet = self._data(self.block)
        self._send(now)
        return False

    def tick(self, now: float, timeout: float, retries: int) -> None:
        """Resend after `timeout` s of silence; TransferError once `retries` are spent."""
        if now - self.sent_at > timeout:
            self.retry_count += 1
            if self.retry_count > retries:
                raise TransferError(f"no ACK after {retries} retries")
            self._send(now)

    def _data(self, block: int) -> bytes:
        start = (block - 1) * self.blksize
        return _DATA_HEAD.pack(DATA, block & 0xFFFF) + self.data[start:start + self.blksize]

    def _send(self, now: float) -> None:
        self.sent_at = now
        with contextlib.suppress(BlockingIOError):  # buffer full: as if lost; timer resends
            if self.peer is None:
                self.sock.send(self.packet)
            else:
                self.sock.sendto(self.packet, self.peer)
