"""tls_stream on loopback: a Listener + TlsStream server against TlsStream and ssl clients."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable

import pytest
from tvs_support import ident

from harness.services.tls_stream import Listener, TlsStream
from harness.tls import client_context, server_context

Serve = Callable[[TlsStream], Awaitable[None]]


async def with_server(serve: Serve, client: Callable[[tuple[str, int]], Awaitable[None]],
                      *, backlog: int = 16) -> list[BaseException]:
    """Run `client` against a server whose connections go to `serve`; server errors back."""
    context = server_context(ident("stream-server"))
    errors: list[BaseException] = []

    async def handle(raw: socket.socket, peer: tuple[str, int]) -> None:
        stream = TlsStream.wrap(raw, context, server_side=True)
        try:
            await stream.handshake()
            await serve(stream)
            stream.close()
        except Exception as exc:
            errors.append(exc)
            stream.abort()

    listener = Listener(handle, backlog=backlog)
    address = await listener.start("127.0.0.1", 0)
    try:
        await asyncio.wait_for(client(address), 5)
        if listener.tasks:
            await asyncio.wait(list(listener.tasks), timeout=2)
    finally:
        listener.close()
    return errors


def test_round_trip_exact_reads_lines_and_peer_certificate() -> None:
    async def serve(stream: TlsStream) -> None:
        request = await stream.readexactly(5)
        line = await stream.readline()
        await stream.write(request[::-1] + b"|" + line)

    async def client(address: tuple[str, int]) -> None:
        stream = await TlsStream.connect(*address, client_context(), local_host="127.0.0.9")
        assert stream.peer_certificate() == ident("stream-server").der
        await stream.write(b"hello" + b"line one\nrest")
        assert await stream.readexactly(6) == b"olleh|"
        assert await stream.readline() == b"line one\n"
        stream.close()

    assert asyncio.run(with_server(serve, client)) == []


def test_early_close_is_incomplete_read_with_what_came() -> None:
    async def serve(stream: TlsStream) -> None:
        await stream.write(b"abc")

    async def client(address: tuple[str, int]) -> None:
        stream = await TlsStream.connect(*address, client_context())
        with pytest.raises(asyncio.IncompleteReadError) as info:
            await stream.readexactly(10)
        assert info.value.partial == b"abc"
        assert await stream.read() == b""
        stream.close()

    assert asyncio.run(with_server(serve, client)) == []


def test_abort_fails_a_pending_read_at_once() -> None:
    async def serve(stream: TlsStream) -> None:
        await asyncio.sleep(0.2)

    async def client(address: tuple[str, int]) -> None:
        stream = await TlsStream.connect(*address, client_context())
        reader = asyncio.ensure_future(stream.readexactly(1))
        await asyncio.sleep(0.05)
        stream.abort()
        with pytest.raises(ConnectionAbortedError):
            await reader
        stream.abort()  # twice is harmless

    asyncio.run(with_server(serve, client))


def test_a_plain_tcp_client_fails_the_handshake_and_gets_eof_not_reset() -> None:
    context = server_context(ident("stream-server"))
    failures: list[BaseException] = []

    async def handle(raw: socket.socket, peer: tuple[str, int]) -> None:
        stream = TlsStream.wrap(raw, context, server_side=True)
        try:
            await stream.handshake()
        except ssl.SSLError as exc:
            failures.append(exc)
            stream.reject()

    async def main() -> bytes:
        listener = Listener(handle)
        address = await listener.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"GET / HTTP/1.0\r\n\r\n" + bytes(200))
        data = await asyncio.wait_for(reader.read(), 5)  # EOF, not ConnectionResetError
        writer.close()
        listener.close()
        return data

    assert b"HTTP" not in asyncio.run(main())
    assert len(failures) == 1 and "http request" in str(failures[0]).lower()


def test_listener_serves_a_burst_of_concurrent_connections() -> None:
    async def serve(stream: TlsStream) -> None:
        await stream.write(await stream.readexactly(1))

    async def client(address: tuple[str, int]) -> None:
        async def one(i: int) -> bytes:
            stream = await TlsStream.connect(*address, client_context())
            await stream.write(bytes([i]))
            data = await stream.readexactly(1)
            stream.close()
            return data

        assert await asyncio.gather(*(one(i) for i in range(40))) == [bytes([i])
                                                                        for i in range(40)]

    assert asyncio.run(with_server(serve, client, backlog=64)) == []


def test_connect_to_a_closed_port_is_an_os_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(TlsStream.connect("127.0.0.1", port, client_context()))
