"""The cluster's TFTP endpoint: phones fetch CTL, ITL and configs here (docs/HARDWARE.md §1).

The loop is ours, not tftpy's `TftpServer.listen`, which (0.8.7) answers only errors 1 and
4, dies on a 3-byte ACK, a non-ASCII name, `blksize=abc` or a finished `dyn_file_func`
transfer (flock on BytesIO), reports no outcome, stops only at its select timeout, uses
`select()` (fails above fd 1023, as in a 1000-phone storm) and adds blksize to an OACK
asking only tsize. Transfers (DATA/ACK, retransmits, blksize/tsize) are `tftp_transfer`,
which replaced tftpy's per-packet machinery for speed. Requests are judged in
`tftp_files`; replies leave from ports other than the request port; transfer sockets are
connected, so the kernel drops foreign TIDs; a client's retransmitted RRQ does not start
a second transfer."""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import threading
import time
from typing import Any

from harness.errors import LabError
from harness.events import EventLog
from harness.formats.errors import FormatError
from harness.services import tftp_files as policy
from harness.services.base import Endpoint
from harness.services.tftp_transfer import ReadTransfer, TransferError

# tftpy no longer serves here, but its client and server still run beside this endpoint
# (tests, benchmarks/bench_side_by_side.py): keep their warnings off stderr, as before
logging.getLogger("tftpy").addHandler(logging.NullHandler())
NOT_DEFINED, NOT_FOUND, ACCESS_VIOLATION, ILLEGAL, UNKNOWN_TID = 0, 1, 2, 4, 5  # error codes
MESSAGES = {NOT_DEFINED: b"Server error\0", NOT_FOUND: b"File not found\0",
            ACCESS_VIOLATION: b"Access violation\0", ILLEGAL: b"Illegal TFTP operation\0",
            UNKNOWN_TID: b"Unknown transfer ID\0"}


IP_RECVERR = getattr(socket, "IP_RECVERR", 11)  # Linux value; Python does not export it


def _failed_destination(sock: socket.socket) -> tuple[str, int] | None:
    """Where the datagram went whose ICMP error is queued on `sock` (None if unknown)."""
    try:
        _, _, _, address = sock.recvmsg(1, 1024, socket.MSG_ERRQUEUE)
    except OSError:
        return None
    return (str(address[0]), int(address[1])) if address else None


# How many transfers run at once, and how many requests wait beyond them. CUCM's TFTP
# serves a few requests at a time and queues the rest up to its "Maximum Serving Count"
# service parameter (1,500 to 3,500), above which it refuses (docs/DESIGN.md "TFTP
# serving limit"). Serving every request at once instead shares the CPU among all of
# them, so 10,000 phones receive their ITL in the same second and then all ask TVS
# together; served in order, they arrive at TVS as a stream.
SERVING_LIMIT = 1500
QUEUE_LIMIT = 20000


class TftpEndpoint(Endpoint):
    """Read-only TFTP on one UDP port from a `FileSource`, on one thread. Each request leaves
    one `tftp.rrq` event when it ends; each malformed packet leaves a `tftp.error`.
    At most `serving_limit` transfers run at once; later requests wait in arrival order
    (a client's retransmitted RRQ keeps its place), up to `queue_limit`, beyond which
    requests are dropped unanswered (`tftp.busy`) so that the client retries."""

    name = "tftp"

    def __init__(self, files: policy.FileSource, events: EventLog, host: str = "127.0.0.1",
                 port: int = 0, source_name: str = "tftp", *, timeout: float = 1.0,
                 retries: int = 5, serving_limit: int = SERVING_LIMIT,
                 queue_limit: int = QUEUE_LIMIT) -> None:
        super().__init__(events, host, port)
        self.files, self.source_name = files, source_name
        self.timeout, self.retries = timeout, retries
        if serving_limit < 1 or queue_limit < 0:
            raise ValueError("serving_limit must be >= 1 and queue_limit >= 0")
        self.serving_limit, self.queue_limit = serving_limit, queue_limit
        # requests beyond the serving limit, in arrival order: (file, body, options, peer)
        self._waiting: collections.deque[tuple[str, policy.Body, dict[str, str], Any]] = (
            collections.deque())
        self._thread: threading.Thread | None = None
        self._wake: socket.socket | None = None  # stop() writes here to wake the loop
        # sock -> (transfer, file, peer); only the endpoint's thread (_serve and below) uses it
        self._live: dict[socket.socket, tuple[ReadTransfer, str, Any]] = {}
        self._asked: set[tuple[Any, str]] = set()  # (peer, file) of the live transfers

    @property
    def running(self) -> bool:
        return self._thread is not None

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
        self._bind(sock.getsockname())
        self._wake, wake = socket.socketpair()
        self._sel = selectors.DefaultSelector()  # epoll: no 1024-descriptor ceiling
        self._errors = self.path.datagram_socket()  # refusals leave here
        self._errors.bind((self.address[0], 0))
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
        self._thread = self._wake = None

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
                    for _ in range(64):  # a storm's requests arrive in bursts
                        try:
                            self._request(*sock.recvfrom(4096))
                        except BlockingIOError:
                            break
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
        except FormatError as exc:
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
                    return None  # the client's retransmitted RRQ: under way, or waiting
                agreed = policy.supported_options(options)
                if len(self._live) < self.serving_limit:
                    return self._begin(name, data, agreed, peer)
                if len(self._waiting) < self.queue_limit:
                    self._waiting.append((name, data, agreed, peer))
                    self._asked.add((peer, name))
                    return None
                self.events.record("tftp.busy", source=self.source_name, address=peer[0],
                                   file=name, waiting=len(self._waiting))
                return None
            shown, result, code = name, "not_found", NOT_FOUND
        except PermissionError as exc:
            why = {"reason": str(exc)}
        except Exception as exc:  # a broken source must not take the endpoint down
            result, code, why = "error", NOT_DEFINED, {"reason": repr(exc)}
        self._refuse(peer, code, "tftp.rrq", file=shown, result=result, bytes=0, **why)

    def _begin(self, name: str, data: policy.Body, options: dict[str, str],
               peer: Any) -> None:
        sock = self.path.datagram_socket()  # the transfer's sends cross injected faults
        try:
            sock.setblocking(False)
            sock.bind((self.address[0], 0))  # not connected: strangers get ERROR 5
            # unconnected UDP hears ICMP errors only with IP_RECVERR; they say a client left
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            transfer = ReadTransfer(sock, data, options, peer)
            transfer.start(time.monotonic())  # sends OACK or DATA 1
        except Exception:
            sock.close()
            raise
        self._live[sock] = (transfer, name, peer)
        self._asked.add((peer, name))
        self._sel.register(sock, selectors.EVENT_READ)

    def _advance(self, sock: socket.socket) -> None:
        transfer, name, peer = self._live[sock]
        try:
            packet, source = sock.recvfrom(65536)
        except BlockingIOError:
            return
        except OSError as exc:  # ICMP: the client left, or a stranger we answered did
            if _failed_destination(sock) in (peer, None):
                return self._finish(sock, "error", reason=repr(exc))
            return None
        if source != peer:  # another port or host: tell it, leave the transfer alone
            if packet[:2] != b"\x00\x05":
                with contextlib.suppress(OSError):
                    sock.sendto(b"\x00\x05" + UNKNOWN_TID.to_bytes(2, "big")
                                + MESSAGES[UNKNOWN_TID], source)
            self.events.record("tftp.error", source=self.source_name, address=source[0],
                               file=name, reason=f"packet from unknown transfer ID "
                                                 f"{source[0]}:{source[1]}")
            return None
        try:
            finished = transfer.receive(packet, time.monotonic())
        except TransferError as exc:  # the client's ERROR, garbage on the transfer port
            return self._finish(sock, "error", reason=str(exc))
        except OSError as exc:  # ICMP unreachable: the client has gone
            return self._finish(sock, "error", reason=repr(exc))
        if finished:
            self._finish(sock, "ok")

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for sock, (transfer, _, _) in list(self._live.items()):
            try:
                transfer.tick(now, self.timeout, self.retries)
            except TransferError as exc:
                self._finish(sock, "error", reason=str(exc))
            except OSError as exc:
                self._finish(sock, "error", reason=repr(exc))

    def _finish(self, sock: socket.socket, result: str, **extra: str) -> None:
        transfer, name, peer = self._live.pop(sock)
        self._asked.discard((peer, name))
        self._sel.unregister(sock)
        sock.close()
        self.events.record("tftp.rrq", source=self.source_name, address=peer[0], file=name,
                           result=result, bytes=transfer.bytes_sent, **extra)
        self._start_waiting()

    def _start_waiting(self) -> None:
        """Start the oldest waiting requests while there is room. A client that gave up
        meanwhile has closed its port: DATA 1 draws an ICMP error and the transfer ends at
        once (IP_RECVERR), so waiting requests need no clock of their own."""
        while self._waiting and len(self._live) < self.serving_limit:
            name, data, options, peer = self._waiting.popleft()
            self._asked.discard((peer, name))
            try:
                self._begin(name, data, options, peer)
            except OSError as exc:  # out of descriptors: the client retries
                self.events.record("tftp.rrq", source=self.source_name, address=peer[0],
                                   file=name, result="error", bytes=0, reason=repr(exc))

    def _refuse(self, peer: tuple[str, int], code: int | None, kind: str, **data: Any) -> None:
        if code is not None:
            with contextlib.suppress(OSError):  # an unreachable peer is not our failure
                self._errors.sendto(b"\x00\x05" + code.to_bytes(2, "big") + MESSAGES[code], peer)
        self.events.record(kind, source=self.source_name, address=peer[0], **data)
