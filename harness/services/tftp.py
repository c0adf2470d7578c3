"""The cluster's TFTP endpoint: phones fetch CTL, ITL and configs here (HARDWARE.md §1).

Transfers (DATA/ACK, retransmits, blksize/tsize) run in tftpy's `TftpContextServer`; the
loop is ours, as tftpy 0.8.7's `TftpServer.listen` answers only errors 1 and 4, dies on a
3-byte ACK, a non-ASCII name, `blksize=abc` or a finished `dyn_file_func` transfer (flock
on BytesIO), reports no outcome, stops only at its select timeout, uses `select()` (fails
above fd 1023, as in a 1000-phone storm) and adds blksize to an OACK asking only tsize.
Requests are judged in `tftp_files`; replies leave from ports other than the request
port; transfer sockets are connected, so the kernel drops foreign TIDs."""

from __future__ import annotations

import contextlib
import io
import logging
import selectors
import socket
import threading
import time
from typing import Any

from tftpy.TftpContexts import TftpContextServer
from tftpy.TftpShared import TftpTimeoutExpectACK
from tftpy.TftpStates import TftpStateServerRecvRRQ

from harness.errors import LabError
from harness.events import EventLog
from harness.services import tftp_files as policy
from harness.services.base import Endpoint

logging.getLogger("tftpy").addHandler(logging.NullHandler())  # no lastResort noise on stderr
_NOWHERE = "/dev/null"  # tftpy's "root": holds no files, so its disk lookup always misses
NOT_DEFINED, NOT_FOUND, ACCESS_VIOLATION, ILLEGAL = 0, 1, 2, 4  # TFTP error codes
MESSAGES = {NOT_DEFINED: b"Server error\0", NOT_FOUND: b"File not found\0",
            ACCESS_VIOLATION: b"Access violation\0", ILLEGAL: b"Illegal TFTP operation\0"}


class _ReadState(TftpStateServerRecvRRQ):  # type: ignore[misc]
    """tftpy's RRQ state, with an OACK that echoes only the options the client sent."""

    def sendOACK(self) -> None:  # tftpy's method name; `asked` is set by TftpEndpoint._begin
        self.context.options = {key: self.context.options[key] for key in self.context.asked}
        super().sendOACK()


class TftpEndpoint(Endpoint):
    """Read-only TFTP on one UDP port from a `FileSource`, on one thread. Each request leaves
    one `tftp.rrq` event when it ends; each malformed packet leaves a `tftp.error`."""

    name = "tftp"

    def __init__(self, files: policy.FileSource, events: EventLog, host: str = "127.0.0.1",
                 port: int = 0, source_name: str = "tftp", *, timeout: float = 1.0,
                 retries: int = 5) -> None:
        super().__init__(events, host, port)
        self.files, self.source_name = files, source_name
        self.timeout, self.retries = timeout, retries
        self._thread: threading.Thread | None = None
        self._bound: tuple[str, int] | None = None
        self._wake: socket.socket | None = None  # stop() writes here to wake the loop
        # sock -> (ctx, file, ip); only the endpoint's thread (_serve and below) touches it
        self._live: dict[socket.socket, tuple[Any, str, str]] = {}
        self._asked: dict[tuple[Any, str], socket.socket] = {}  # (peer, file) -> live transfer

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
            raise LabError(f"cannot bind UDP {self.host}:{self.port}: {exc.strerror}") from None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # boot-storm bursts
        sock.setblocking(False)
        self._bound = sock.getsockname()
        self.port = self.port or sock.getsockname()[1]  # a restart keeps the same port
        self._wake, wake = socket.socketpair()
        self._sel = selectors.DefaultSelector()  # epoll: no 1024-descriptor ceiling
        self._errors = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # refusals leave here
        self._errors.bind((self._bound[0], 0))
        self._thread = threading.Thread(target=self._serve, args=(sock, wake),
                                        name=f"{self.source_name}:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Wake the loop, which aborts open transfers and closes the port; then join it."""
        if self._thread is None or self._wake is None:
            return
        with contextlib.suppress(OSError):  # the loop may have died already
            self._wake.send(b"!")
        self._thread.join(timeout=5)
        self._wake.close()
        self._thread = self._wake = self._bound = None

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
                    with contextlib.suppress(BlockingIOError):  # one datagram per wake-up
                        self._request(*sock.recvfrom(4096))
                if self._live and time.monotonic() >= next_check:
                    self._check_timeouts()
                    next_check = time.monotonic() + self.timeout / 4
        finally:
            for live in list(self._live):
                self._finish(live, "error", reason="server stopped")
            self._sel.close()
            for end in (sock, wake, self._errors):
                end.close()

    def _request(self, packet: bytes, peer: tuple[str, int]) -> None:
        try:
            opcode, raw, options = policy.parse_request(packet)
        except ValueError as exc:
            silent = packet[:2] == b"\x00\x05"  # never answer an ERROR packet
            return self._refuse(peer, None if silent else ILLEGAL, "tftp.error", reason=str(exc))
        if opcode == policy.WRQ:
            return self._refuse(peer, ACCESS_VIOLATION, "tftp.error", file=policy.printable(raw),
                                reason="write request refused (read-only server)")
        shown, result, code, why = policy.printable(raw), "denied", ACCESS_VIOLATION, {}
        try:
            name, data = policy.fetch(self.files, raw)
            if data is not None:
                if (peer, name) in self._asked:
                    return None  # the client's retransmitted RRQ: that transfer is under way
                return self._begin(name, data, policy.supported_options(options), peer)
            shown, result, code = name, "not_found", NOT_FOUND
        except PermissionError as exc:
            why = {"reason": str(exc)}
        except Exception as exc:  # a broken source must not take the endpoint down
            result, code, why = "error", NOT_DEFINED, {"reason": repr(exc)}
        self._refuse(peer, code, "tftp.rrq", file=shown, result=result, bytes=0, **why)

    def _begin(self, name: str, data: bytes, options: dict[str, str], peer: Any) -> None:
        ctx = TftpContextServer(peer[0], peer[1], self.timeout, _NOWHERE, flock=False,
                                dyn_file_func=lambda *_a, **_k: io.BytesIO(data))
        try:
            ctx.sock.bind((self.address[0], 0))
            ctx.sock.connect(peer)
            ctx.state, ctx.asked = _ReadState(ctx), tuple(options)
            wire = b"".join(f"{key}\0{value}\0".encode() for key, value in options.items())
            ctx.start(b"\0\1" + name.encode() + b"\0octet\0" + wire)  # sends OACK or DATA 1
        except Exception:
            ctx.end()
            raise
        self._live[ctx.sock] = (ctx, name, peer[0])
        self._asked[(peer, name)] = ctx.sock
        self._sel.register(ctx.sock, selectors.EVENT_READ)

    def _advance(self, sock: socket.socket) -> None:
        ctx = self._live[sock][0]
        try:
            ctx.cycle()
        except TftpTimeoutExpectACK:  # a stale duplicate ACK: resend our DATA at the next tick
            ctx.last_update = 0.0
        except Exception as exc:  # peer ERROR, garbage on the transfer port, ICMP unreachable
            self._finish(sock, "error", reason=repr(exc))
        if sock in self._live and ctx.state is None:
            self._finish(sock, "ok")

    def _check_timeouts(self) -> None:
        for sock, (ctx, _, _) in list(self._live.items()):
            if (now := time.time()) - ctx.last_update > self.timeout:  # tftpy's clock
                ctx.retry_count, ctx.last_update = ctx.retry_count + 1, now  # spaced retries
                try:
                    if ctx.retry_count > self.retries:
                        raise TimeoutError(f"no ACK after {self.retries} retries")
                    ctx.state.resendLast()
                except Exception as exc:
                    self._finish(sock, "error", reason=str(exc))

    def _finish(self, sock: socket.socket, result: str, **extra: str) -> None:
        ctx, name, ip = self._live.pop(sock)
        self._asked.pop(((ctx.host, ctx.port), name), None)
        self._sel.unregister(sock)
        ctx.end()
        self.events.record("tftp.rrq", source=self.source_name, address=ip, file=name,
                           result=result, bytes=ctx.metrics.bytes, **extra)

    def _refuse(self, peer: tuple[str, int], code: int | None, kind: str, **data: Any) -> None:
        if code is not None:
            with contextlib.suppress(OSError):  # an unreachable peer is not our failure
                self._errors.sendto(b"\x00\x05" + code.to_bytes(2, "big") + MESSAGES[code], peer)
        self.events.record(kind, source=self.source_name, address=peer[0], **data)
