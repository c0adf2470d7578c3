"""Finding 12 (CAPF part): every CAPF error event says why, even for garbage peers.

CAPF error events once carried an empty reason. Hostile peers send garbage after the
TLS handshake, or close at once; each leaves a `capf.error` with a reason while a
phone enrolls.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Callable

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from harness.services.capf import CapfEndpoint
from harness.services.capf_directory import CapfDirectory
from harness.tls import client_context
from tests.hostile.attack_support import PHONE_TIMEOUT, capf_enroll

PEERS = 60
PHONE = "SEP001122334455"


def _garbage(address: tuple[str, int], kind: int) -> None:
    with contextlib.suppress(OSError, ssl.SSLError), \
            socket.create_connection(address, timeout=5) as raw:
        if kind == 0:
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not TLS at all
            raw.recv(100)
            return
        with client_context().wrap_socket(raw) as tls:
            if kind == 1:
                tls.sendall(b"\x55" * 64)  # TLS, then garbage frames
                tls.recv(100)
            # kind 2: TLS, then close without a word


def test_every_capf_error_has_a_reason_while_a_phone_enrolls(
        pki: LabPKI, loop: BackgroundLoop, events: EventLog,
        figures: Callable[..., None]) -> None:
    capf = pki.identity(CertRole.capf, "cucm1")
    directory = CapfDirectory()
    directory.add(PHONE, "install", "no password", key_size=1024)
    with CapfEndpoint(events, loop, capf, directory, timeout=5) as endpoint:
        for i in range(PEERS):
            _garbage(endpoint.address, i % 3)
        started = time.monotonic()
        capf_enroll(endpoint.address, PHONE, capf)
        took = time.monotonic() - started
        deadline = time.monotonic() + 5
        while len(events.of_kind("capf.error")) < PEERS and time.monotonic() < deadline:
            time.sleep(0.05)
    errors = events.of_kind("capf.error")
    figures("finding 12 capf", garbage_peers=PEERS, capf_errors=len(errors), enroll_s=took)
    assert len(errors) >= PEERS
    assert all(str(e.data.get("reason", "")).strip() for e in errors), \
        [e.data for e in errors if not str(e.data.get("reason", "")).strip()]
    assert took < PHONE_TIMEOUT / 2
