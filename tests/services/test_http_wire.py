"""The small plain-HTTP server's bounds: oversize heads and bodies, bad requests, silence."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from harness.aio import BackgroundLoop
from harness.services import http_wire
from harness.services.http_wire import PlainHttpServer, Request, Response, post_form


async def echo(request: Request) -> Response:
    fields = request.form()
    return Response(200, repr(sorted(fields.items())).encode()
                    + (b" expect" if request.expects_continue else b""))


@pytest.fixture
def served() -> Iterator[tuple[BackgroundLoop, tuple[str, int]]]:
    with BackgroundLoop() as loop:
        server = PlainHttpServer(echo, continue_ok=False, timeout=1.0)
        address = loop.run(server.start("127.0.0.1", 0))
        yield loop, address
        loop.run(server.stop())


def exchange(address: tuple[str, int], data: bytes) -> bytes:
    with socket.create_connection(address, timeout=3) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_form_fields_from_query_and_body(served: tuple[BackgroundLoop, tuple[str, int]]) -> None:
    loop, address = served
    status, body = loop.run(post_form(f"http://{address[0]}:{address[1]}/x?a=1", {"b": "2 3"}))
    assert (status, body) == (200, b"[('a', '1'), ('b', '2 3')]")


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/2\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
])
def test_bad_requests_get_400(served: tuple[BackgroundLoop, tuple[str, int]],
                              data: bytes) -> None:
    assert exchange(served[1], data).startswith(b"HTTP/1.1 400 ")


def test_oversize_head_body_and_silence_are_dropped_without_reply(
        served: tuple[BackgroundLoop, tuple[str, int]]) -> None:
    address = served[1]
    assert exchange(address, b"GET / HTTP/1.1\r\nX: " + b"a" * (http_wire.MAX_HEAD * 2)) == b""
    big = http_wire.MAX_BODY + 1
    assert exchange(address, f"POST / HTTP/1.1\r\nContent-Length: {big}\r\n\r\n".encode()) == b""
    start = time.monotonic()
    assert exchange(address, b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc") == b""
    assert time.monotonic() - start < 2.5  # the 1 s request timeout, not the client's 3 s


def test_expect_continue_reaches_the_handler_unread(
        served: tuple[BackgroundLoop, tuple[str, int]]) -> None:
    reply = exchange(served[1], b"POST / HTTP/1.1\r\nExpect: 100-continue\r\n"
                                b"Content-Length: 5\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"[] expect")


def test_post_form_refuses_non_http_urls_and_reports_unreachable() -> None:
    with BackgroundLoop() as loop:
        with pytest.raises(ValueError, match="not a plain http URL"):
            loop.run(post_form("https://127.0.0.1/x", {}))
        with pytest.raises(OSError):
            loop.run(post_form("http://127.0.0.1:1/x", {}, timeout=2))
