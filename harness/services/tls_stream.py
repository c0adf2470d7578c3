"""TLS for asyncio code on non-blocking sockets: TVS (both ends) and the twin's HTTPS.

Hand-written instead of asyncio's own TLS (`open_connection(ssl=...)`, `start_tls`)
because CPython's `SSLProtocol` allocates and zeroes a 256 KiB read buffer for every
connection and moves each byte through memory BIOs in Python. A boot storm holds
about two TLS connections per phone at once (a phone keeps its HTTPS connection
open while it asks TVS about the certificate), so 1,000 phones cost ~0.5 GB on the
phones' side and as much on the TVS side, and zeroing the buffers costs more CPU
than the handshakes. Here OpenSSL reads and writes the socket itself and the loop
only reports readiness (`add_reader`/`add_writer`): a few KiB per connection.
Only public `ssl`, `socket` and `asyncio` APIs are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
READ_CHUNK = 4096
ACCEPT_RETRY_DELAY = 1.0  # out of descriptors: stop accepting this long, as asyncio does
# Servers run at most this many handshakes at once and queue the rest (accepted, not yet
# wrapped): a handshake in progress holds OpenSSL buffers on each side, and one loop
# thread gains nothing from interleaving more of them than it has CPU for. But in a
# storm the handshake's time is mostly the phones' round trips (thousands of phones per
# twin process), not ours: 128 slots held that long capped TVS at a few hundred
# handshakes/s per worker and 10,000 phones missed their 10 s TVS wait
# (benchmarks/bench_boot_storm.py); 512 covers that latency at ~1,000/s.
MAX_HANDSHAKES = 512
Handler = Callable[[socket.socket, tuple[str, int]], Coroutine[Any, Any, None]]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class TlsStream:
    """One TLS connection; use it from the loop it was made on, one task at a time."""

    def __init__(self, sock: ssl.SSLSocket, loop: asyncio.AbstractEventLoop) -> None:
        self._sock, self._loop, self._fd = sock, loop, sock.fileno()
        self._buffer = b""
        self._waiter: asyncio.Future[None] | None = None
        self._unwatch: Callable[[int], bool] = loop.remove_reader
        self.closed = False

    # --- making one -----------------------------------------------------------
    @classmethod
    def wrap(cls, raw: socket.socket, context: ssl.SSLContext, *, server_side: bool,
             server_hostname: str | None = None) -> TlsStream:
        """Wrap a connected non-blocking socket; `handshake()` comes next."""
        loop = asyncio.get_running_loop()
        try:
            tls = context.wrap_socket(raw, server_side=server_side,
                                      do_handshake_on_connect=False,
                                      server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        return cls(tls, loop)

    @classmethod
    async def connect(cls, host: str, port: int, context: ssl.SSLContext, *,
                      local_host: str | None = None) -> TlsStream:
        """TCP connect (from `local_host` if given), then the client handshake."""
        loop = asyncio.get_running_loop()
        family, address = await _resolve(loop, host, port)
        raw = socket.socket(family, socket.SOCK_STREAM)
        try:
            raw.setblocking(False)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if local_host:
                raw.bind((local_host, 0))
            await loop.sock_connect(raw, address)
        except BaseException:
            raw.close()
            raise
        stream = cls.wrap(raw, context, server_side=False)
        try:
            await stream.handshake()
        except BaseException:
            stream.abort()
            raise
        return stream

    async def handshake(self) -> None:
        await self._io(self._sock.do_handshake)

    # --- facts ------------------------------------------------------------------
    def peer_certificate(self) -> bytes:
        """The DER certificate the peer presented (empty when none)."""
        return self._sock.getpeercert(binary_form=True) or b""

    def local_address(self) -> tuple[str, int]:
        """(host, port) of our end (a SIP phone puts it in Via and Contact)."""
        name = self._sock.getsockname()
        return str(name[0]), int(name[1])

    # --- I/O --------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        """Send all of `data`; one TLS record per 16 KiB, so one call is one answer."""
        view = memoryview(data)
        while view:
            sent = await self._io(functools.partial(self._sock.send, view))
            view = view[sent:]

    async def read(self, limit: int = READ_CHUNK) -> bytes:
        """Up to `limit` bytes; b"" once the peer has closed."""
        if self._buffer:
            data, self._buffer = self._buffer[:limit], self._buffer[limit:]
            return data
        return await self._recv(limit)

    async def readexactly(self, size: int) -> bytes:
        """Exactly `size` bytes, else `IncompleteReadError` holding what came before EOF."""
        data = self._buffer
        while len(data) < size:
            chunk = await self._recv(max(size - len(data), READ_CHUNK))
            if not chunk:
                self._buffer = b""
                raise asyncio.IncompleteReadError(data, size)
            data += chunk
        self._buffer = data[size:]
        return data[:size]

    async def readline(self, limit: int = 65536) -> bytes:
        """Up to and including the next b"\\n" (or what is left at EOF, or `limit` bytes)."""
        while b"\n" not in self._buffer and len(self._buffer) < limit:
            chunk = await self._recv(READ_CHUNK)
            if not chunk:
                break
            self._buffer += chunk
        end = self._buffer.find(b"\n") + 1 or min(len(self._buffer), limit)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    async def _recv(self, size: int) -> bytes:
        try:
            return await self._io(functools.partial(self._sock.recv, size))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    async def _io(self, op: Callable[[], T]) -> T:
        """Run a non-blocking SSL call, waiting for the socket whenever OpenSSL asks to."""
        while True:
            try:
                return op()
            except ssl.SSLWantReadError:
                await self._ready(write=False)
            except ssl.SSLWantWriteError:
                await self._ready(write=True)

    async def _ready(self, *, write: bool) -> None:
        if self.closed:
            raise ConnectionAbortedError("TLS connection closed")
        loop, waiter = self._loop, self._loop.create_future()
        if write:
            loop.add_writer(self._fd, _wake, waiter)
            self._unwatch = loop.remove_writer
        else:
            loop.add_reader(self._fd, _wake, waiter)
            self._unwatch = loop.remove_reader
        self._waiter = waiter
        try:
            await waiter
        finally:
            if self._waiter is waiter:  # abort() may have done this already
                self._waiter = None
                self._unwatch(self._fd)

    # --- ending -----------------------------------------------------------------
    def close(self) -> None:
        """Send our TLS close_notify (not waiting for the peer's) and close the socket."""
        if not self.closed:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._sock.unwrap()  # non-blocking: sends close_notify, then wants to read
        self.abort()

    def reject(self) -> None:
        """End a connection whose handshake failed: FIN first, then drop what the peer
        sent, so it reads end-of-file rather than a reset caused by unread bytes."""
        if not self.closed:
            with contextlib.suppress(OSError, ValueError):
                self._sock.shutdown(socket.SHUT_WR)  # also drops the SSL layer
                while self._sock.recv(READ_CHUNK):  # plain, non-blocking: until empty
                    pass
        self.abort()

    def abort(self) -> None:
        """Close at once, no TLS goodbye; a read or write in progress fails."""
        if self.closed:
            return
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._unwatch(self._fd)
            if not waiter.done():
                waiter.set_exception(ConnectionAbortedError("TLS connection aborted"))
        self._sock.close()


async def _resolve(loop: asyncio.AbstractEventLoop, host: str,
                   port: int) -> tuple[socket.AddressFamily, tuple[str, int]]:
    """(family, address) without a resolver thread for the IP literals the lab uses."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if not infos:
            raise OSError(f"cannot resolve {host!r}") from None
        family, _, _, _, address = infos[0]
        return family, (str(address[0]), int(address[1]))
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), (host, port)


HELLO_POLL = 0.05  # a partly sent ClientHello keeps the socket readable: poll, don't spin


async def client_hello(raw: socket.socket) -> bool:
    """Wait until the client's first TLS record is entirely in the kernel's buffer.

    Servers call this before taking one of their few handshake slots, so a client
    that trickles its ClientHello (or sends nothing) waits outside and cannot starve
    phones; the caller bounds the wait from the moment of accept. Only peeks: the
    bytes stay for OpenSSL. False when the peer closed first; True for anything
    that is not a handshake record too, so the handshake rejects it at once.
    """
    loop = asyncio.get_running_loop()
    while True:
        try:
            head = raw.recv(5, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            head = None
        if head == b"":
            return False
        if head is not None and len(head) == 5:
            if head[0] != 0x16:  # not a TLS handshake record
                return True
            need = 5 + int.from_bytes(head[3:5], "big")
            with contextlib.suppress(BlockingIOError, InterruptedError):
                if len(raw.recv(need, socket.MSG_PEEK)) >= need:
                    return True
        if head:  # some bytes but not the whole record: readable stays true, so poll
            await asyncio.sleep(HELLO_POLL)
            continue
        waiter = loop.create_future()
        loop.add_reader(raw.fileno(), _wake, waiter)
        try:
            await waiter
        finally:
            loop.remove_reader(raw.fileno())


async def accept_tls(raw: socket.socket, context: ssl.SSLContext, *, deadline: float,
                     slots: asyncio.Semaphore,
                     busy: Callable[[], contextlib.AbstractContextManager[None]],
                     track: set[TlsStream] | None = None) -> TlsStream | str | None:
    """Server side of a TLS accept, as every phonelab TLS endpoint does it.

    One deadline from accept covers the whole ClientHello, the wait for one of the
    few handshake `slots` and the handshake itself, so a client that trickles its
    hello waits outside the slots and cannot starve phones. `busy` marks the
    connection as working (not idle, for connection caps) during the handshake;
    `track` holds the stream while it exists, so a stopping server can abort it.
    Returns the established stream; None when the peer closed before its hello; else
    why the handshake failed (the stream, if any, rejected). The caller owns `raw`
    whenever no stream comes back.
    """
    stream: TlsStream | None = None
    try:
        async with asyncio.timeout(deadline):
            if not await client_hello(raw):
                return None
            async with slots:  # a storm queues here, in arrival order
                with busy():
                    stream = TlsStream.wrap(raw, context, server_side=True)
                    if track is not None:
                        track.add(stream)
                    await stream.handshake()
            return stream
    except TimeoutError:
        reason = f"TLS handshake not done {deadline:g} s after connecting"
    except (ssl.SSLError, OSError) as exc:
        reason = f"TLS handshake failed: {type(exc).__name__}: {exc}"
    except BaseException:  # evicted or stopped: what was made goes with the task
        if stream is not None:
            stream.abort()
            if track is not None:
                track.discard(stream)
        raise
    if stream is not None:
        stream.reject()
        if track is not None:
            track.discard(stream)
    return reason


class Listener:
    """A listening TCP socket on the running loop; each connection is handed to
    `handle(sock, peer)` as a non-blocking socket, in a task of its own. Pending
    connections are accepted in batches, as a storm arrives all at once."""

    def __init__(self, handle: Handler, *, backlog: int = 1024) -> None:
        self.handle, self.backlog = handle, backlog
        self._sock: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        """Connection tasks still running."""
        return self._tasks

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Bind and listen (on the loop thread); returns the bound address."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=self.backlog)
        sock.setblocking(False)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept)
        name = sock.getsockname()
        return str(name[0]), int(name[1])

    def _accept(self) -> None:
        sock, loop = self._sock, asyncio.get_running_loop()
        if sock is None:
            return
        for _ in range(self.backlog):
            try:
                conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and friends: the kernel keeps the queue meanwhile
                loop.remove_reader(sock.fileno())
                loop.call_later(ACCEPT_RETRY_DELAY, self._resume)
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(self.handle(conn, (str(peer[0]), int(peer[1]))))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _resume(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop listening (on the loop thread); connections already accepted go on."""
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
