"""PlainHttpServer bounds: connections beyond `max_open` are closed at once, the deadline
runs from accept, and a handler slot is taken only by a complete request."""

from __future__ import annotations

import contextlib
import socket
import time

from harness.aio import BackgroundLoop
from harness.services.http_wire import PlainHttpServer, Request, Response, post_form


async def _hello(request: Request) -> Response:
    return Response(200, b"hello")


def test_open_connections_are_bounded_and_the_deadline_runs_from_accept(
        loop: BackgroundLoop) -> None:
    server = PlainHttpServer(_hello, timeout=0.5, max_open=5)
    host, port = loop.run(server.start("127.0.0.1", 0))
    held: list[socket.socket] = []
    try:
        held = [socket.create_connection((host, port), timeout=5) for _ in range(12)]
        time.sleep(0.2)
        for sock in held:
            sock.settimeout(2)
        closed_at_once = [sock.recv(1) == b"" for sock in held[5:]]
        assert all(closed_at_once) and server.refused == 7
        started = time.monotonic()
        assert held[0].recv(1) == b""  # silent: closed by the deadline from accept
        assert time.monotonic() - started < 1.0
        status, body = loop.run(post_form(f"http://{host}:{port}/x", {}, timeout=5))
        assert (status, body) == (200, b"hello")
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
        loop.run(server.stop())
