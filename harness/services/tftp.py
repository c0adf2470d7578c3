"""The cluster's TFTP endpoint: phones fetch CTL, ITL and configs here (HARDWARE.md §1).

Each transfer (DATA/ACK, retransmission, blksize/tsize) runs in tftpy's
`TftpContextServer`; the request loop is ours, because tftpy 0.8.7's
`TftpServer.listen` cannot meet the contract: it answers only error 1 or 4, never 2
(access violation); a 3-byte ACK, a non-ASCII name or `blksize=abc` kills its thread;
files from `dyn_file_func` crash it when their transfer ends (flock on a BytesIO);
nothing reports how a transfer ended; `stop()` waits out the select timeout, which
is also the retransmit timeout; `select()` fails on descriptors above 1023, which a
1000-phone storm reaches; its OACK adds blksize when only tsize was asked (RFC 2347).
So requests are parsed and judged in `tftp_files`, refusals answered from a fresh
port, and a clean RRQ handed to a tftpy context bound to our address and connected
to the client, so the kernel drops packets from other transfer IDs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import selectors
import socket
import threading
import time
from typing import Any

from tftpy.TftpContexts import TftpContextServer
from tftpy.TftpPacketTypes import TftpPacketRRQ
from tftpy.TftpShared import TftpTimeoutExpectACK
from tftpy.TftpStates import TftpStateServerRecvRRQ

from harness.errors import LabError
from harness.events import EventLog
from harness.services.base import Endpoint
from harness.services.tftp_files import WRQ, FileSource, fetch, parse_request, printable

logging.getLogger("tftpy").addHandler(logging.NullHandler())  # no lastResort noise on stderr
_NOWHERE = os.devnull  # tftpy's "root": holds no files, so its disk lookup always misses
MAX_BLKSIZE = 65464  # RFC 2348: the largest block that still fits one UDP datagram
NOT_DEFINED, NOT_FOUND, ACCESS_VIOLATION, ILLEGAL = 0, 1, 2, 4  # TFTP error codes
MESSAGES = {NOT_DEFINED: b"Server error\0", NOT_FOUND: b"File not found\0",
            ACCESS_VIOLATION: b"Access violation\0", ILLEGAL: b"Illegal TFTP operation\0"}


def supported_options(asked: dict[str, str]) -> dict[str, str]:
    """blksize (clamped to 8..65464) and tsize; others are dropped, so never echoed."""
    kept = {"tsize": "0"} if "tsize" in asked else {}  # tftpy fills in the real size
    with contextlib.suppress(KeyError, ValueError):  # absent or not a number: 512 blocks
        kept["blksize"] = str(min(max(int(asked["blksize"]), 8), MAX_BLKSIZE))
    return kept


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _ReadState(TftpStateServerRecvRRQ):  # type: ignore[misc]
    """tftpy's RRQ state, with an OACK that echoes only the options the client sent."""

    def __init__(self, context: Any, asked: frozenset[str]) -> None:
        super().__init__(context)
        self.asked = asked

    def sendOACK(self) -> None:  # tftpy's method name
        self.context.options = {k: v for k, v in self.context.options.items() if k in self.asked}
        super().sendOACK()


class TftpEndpoint(Endpoint):
    """Read-only TFTP on one UDP port, served from a `FileSource` by one thread.

    Every request leaves a `tftp.rrq` event (file, result ok/not_found/denied/error,
    bytes), recorded when its transfer ends; malformed packets leave `tftp.error`.
    """

    name = "tftp"

    def __init__(self, files: FileSource, events: EventLog, host: str = "127.0.0.1",
                 port: int = 0, source_name: str = "tftp", *, timeout: float = 1.0,
                 retries: int = 5) -> None:
        super().__init__(events, host, port)
        self.files, self.source_name = files, source_name
        self.timeout, self.retries = timeout, retries
        self._thread: threading.Thread | None = None
        self._bound: tuple[str, int] | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._sel: selectors.BaseSelector  # made by start(): epoll has no 1024-fd ceiling
        self._live: dict[socket.socket, tuple[Any, str, str]] = {}  # sock -> (ctx, file, ip)

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._bound is None:
            raise RuntimeError(f"{self.source_name} is not running")
        return self._bound

    def start(self) -> None:
        """Bind here, so a busy port is a `LabError` from start(), then serve on a thread."""
        if self._thread is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise LabError(f"{self.source_name}: cannot bind UDP {self.host}:{self.port}: "
                           f"{exc.strerror or exc}") from None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # boot-storm bursts
        sock.setblocking(False)
        self._bound = sock.getsockname()
        self.port = self.port or sock.getsockname()[1]  # a restart keeps the same port
        self._wake, self._sel = socket.socketpair(), selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._serve, args=(sock, self._wake[0]),
                                        name=f"{self.source_name}:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Wake the loop, which aborts open transfers and closes the port; then join it."""
        if self._thread is None or self._wake is None:
            return
        self._wake[1].send(b"!")
        self._thread.join(timeout=5)
        for end in self._wake:
            end.close()
        self._thread = self._wake = self._bound = None

    # --- the loop: everything below runs on the endpoint's thread ---------
    def _serve(self, sock: socket.socket, wake: socket.socket) -> None:
        self._sel.register(sock, selectors.EVENT_READ)
        self._sel.register(wake, selectors.EVENT_READ)
        next_check = 0.0
        try:
            while True:
                wait = max(0.0, next_check - time.monotonic()) if self._live else None
                for key, _ in self._sel.select(wait):
                    if key.fileobj is wake:
                        return
                    if key.fileobj is not sock:
                        self._advance(key.fileobj)  # type: ignore[arg-type]
                        continue
                    for _ in range(64):  # bounded, so transfers in flight are not starved
                        try:
                            packet, peer = sock.recvfrom(4096)
                        except OSError:  # BlockingIOError: queue drained
                            break
                        self._request(packet, (str(peer[0]), int(peer[1])))
                if self._live and time.monotonic() >= next_check:
                    self._check_timeouts()
                    next_check = time.monotonic() + self.timeout / 4
        finally:
            for live in list(self._live):
                self._finish(live, "error", reason="server stopped")
            self._sel.close()
            sock.close()

    def _request(self, packet: bytes, peer: tuple[str, int]) -> None:
        try:
            opcode, raw, options = parse_request(packet)
        except ValueError as exc:
            silent = packet[:2] == b"\x00\x05"  # never answer an ERROR packet
            return self._refuse(peer, None if silent else ILLEGAL, "tftp.error", reason=str(exc))
        if opcode == WRQ:
            return self._refuse(peer, ACCESS_VIOLATION, "tftp.error", file=printable(raw),
                                reason="write request refused (read-only server)")
        shown, result, code, why = printable(raw), "denied", ACCESS_VIOLATION, {}
        try:
            name, data = fetch(self.files, raw)
            if data is not None:
                return self._begin(name, data, supported_options(options), peer)
            shown, result, code = name, "not_found", NOT_FOUND
        except PermissionError as exc:
            why = {"reason": str(exc)}
        except Exception as exc:  # a broken source must not take the endpoint down
            result, code, why = "error", NOT_DEFINED, {"reason": _why(exc)}
        self._refuse(peer, code, "tftp.rrq", file=shown, result=result, bytes=0, **why)

    def _begin(self, name: str, data: bytes, options: dict[str, str], peer: tuple[str, int]) -> None:
        ctx = TftpContextServer(peer[0], peer[1], self.timeout, _NOWHERE, flock=False,
                                dyn_file_func=lambda *_a, **_k: io.BytesIO(data))
        try:
            ctx.sock.bind((self.address[0], 0))
            ctx.sock.connect(peer)
            ctx.state = _ReadState(ctx, frozenset(options))
            rrq = TftpPacketRRQ()
            rrq.filename, rrq.mode, rrq.options = name, "octet", options
            ctx.start(rrq.encode().buffer)  # sends the OACK or the first DATA
        except Exception:
            ctx.end()
            raise
        self._live[ctx.sock] = (ctx, name, peer[0])
        self._sel.register(ctx.sock, selectors.EVENT_READ)

    def _advance(self, sock: socket.socket) -> None:
        ctx = self._live[sock][0]
        try:
            ctx.cycle()
        except TftpTimeoutExpectACK:  # a stale duplicate ACK: resend our DATA at the next tick
            ctx.last_update = 0.0
        except Exception as exc:  # peer ERROR, garbage on the transfer port, ICMP unreachable
            self._finish(sock, "error", reason=_why(exc))
        else:
            if ctx.state is None:
                self._finish(sock, "ok")

    def _check_timeouts(self) -> None:
        now = time.time()  # tftpy stamps last_update with time.time()
        for sock, (ctx, _, _) in list(self._live.items()):
            if now - ctx.last_update <= self.timeout:
                continue
            if ctx.retry_count >= self.retries:
                self._finish(sock, "error", reason=f"no ACK after {self.retries} retries")
                continue
            ctx.retry_count += 1
            ctx.last_update = now  # tftpy's loop does not, so its retries fire back to back
            try:
                ctx.state.resendLast()
            except Exception as exc:
                self._finish(sock, "error", reason=_why(exc))

    def _finish(self, sock: socket.socket, result: str, **extra: str) -> None:
        ctx, name, ip = self._live.pop(sock)
        self._sel.unregister(sock)
        ctx.end()
        self.events.record("tftp.rrq", source=self.source_name, address=ip, file=name,
                           result=result, bytes=ctx.metrics.bytes, **extra)

    def _refuse(self, peer: tuple[str, int], code: int | None, kind: str, **data: Any) -> None:
        """Answer TFTP error `code` from a fresh port, as data would come; then record."""
        if code is not None:
            out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with out, contextlib.suppress(OSError):  # an unreachable peer is not our failure
                out.bind((self.address[0], 0))
                out.sendto(b"\x00\x05" + code.to_bytes(2, "big") + MESSAGES[code], peer)
        self.events.record(kind, source=self.source_name, address=peer[0], **data)
