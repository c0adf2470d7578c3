"""The plain-HTTP authentication URL (and twin phones' web) under slow and silent clients.

Same lesson as finding 1, on the plain side of HTTPS: connections used to take one of
64 handler slots before their request had arrived, so 64 slow clients kept phones
from `/ccmcip/authenticate.jsp` for the length of their timeout, and any number of
connections queued behind them. Now a slot is taken only for a complete request,
the deadline runs from accept, and at most `max_open` connections are held.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from harness.services.http_wire import MAX_CONNECTIONS, post_form
from harness.services.https import HttpsServicesEndpoint
from tests.hostile.attack_support import PHONE_TIMEOUT, fd_count

SLOW = 3 * MAX_CONNECTIONS


def test_authentication_url_answers_while_slow_clients_hold_connections(
        pki: LabPKI, loop: BackgroundLoop, events: EventLog,
        figures: Callable[..., None]) -> None:
    server = HttpsServicesEndpoint(pki.identity(CertRole.tomcat, "cucm1"), events, loop=loop)
    with server:
        host, port = server.http_address
        attackers = []
        try:
            for i in range(SLOW):
                sock = socket.create_connection((host, port), timeout=5)
                if i % 2:
                    sock.sendall(b"POST /ccmcip/authenticate.jsp HTTP/1.1\r\nHost: x\r\n")
                attackers.append(sock)
            time.sleep(0.3)
            latencies = []
            for _ in range(3):
                started = time.monotonic()
                status, body = asyncio.run(post_form(
                    f"http://{host}:{port}/ccmcip/authenticate.jsp",
                    {"UserID": "nobody", "Password": "x", "devicename": "SEP001122334455"},
                    timeout=PHONE_TIMEOUT))
                latencies.append(time.monotonic() - started)
                assert (status, body) == (200, b"UN-AUTHORIZED")
            fds = fd_count()
        finally:
            for sock in attackers:
                with contextlib.suppress(OSError):
                    sock.close()
    figures("finding 1 http auth", slow_clients=SLOW, post_max_s=max(latencies), fds=fds)
    assert max(latencies) < 2.0, latencies  # was: behind 64 slow clients' 10 s
