"""Finding 5: malformed numbers in SIP headers are recorded, never escape the handlers.

`Content-Length: ²` and a 5,000-digit `Expires` once raised ValueError inside the
registrar: an asyncio traceback, the request silently dropped, no `sip.error`.
Now each is a `sip.error` (or a 400) and a phone's REGISTER keeps being answered.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.registrar import Registrar
from tests.hostile.attack_support import PHONE_TIMEOUT, sip_register

ROUNDS = 500


def _hostile(port: int) -> list[bytes]:
    head = (f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;"
            "branch=z9hG4bKx\r\nFrom: <sip:SEP001122334466@127.0.0.1>;tag=1\r\n"
            "To: <sip:SEP001122334466@127.0.0.1>\r\nCall-ID: x@127.0.0.1\r\n"
            "CSeq: 1 REGISTER\r\nContact: <sip:SEP001122334466@127.0.0.1:5999>\r\n")
    return [(head + "Content-Length: \u00b2\r\n\r\n").encode(),
            (head + "Expires: " + "9" * 5000 + "\r\nContent-Length: 0\r\n\r\n").encode(),
            (head + "Content-Length: " + "9" * 5000 + "\r\n\r\n").encode()]


def test_malformed_numbers_are_errors_and_phones_still_register(
        loop: BackgroundLoop, events: EventLog, figures: Callable[..., None]) -> None:
    with Registrar(events, loop) as registrar:
        port = registrar.address[1]
        attacks = _hostile(port)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        latencies = []
        try:
            for i in range(ROUNDS):
                for message in attacks:
                    udp.sendto(message, registrar.address)
                time.sleep(0.002)  # within what the socket buffer holds: none dropped
                if i % 100 == 0:
                    with socket.create_connection(registrar.address, timeout=5) as tcp:
                        tcp.sendall(b"".join(attacks))  # the same over a stream
                    started = time.monotonic()
                    sip_register(registrar.address, f"SEP0011223344{i % 256:02X}")
                    latencies.append(time.monotonic() - started)
                    time.sleep(0.01)
            deadline = time.monotonic() + 10
            while len(events.of_kind("sip.error")) < ROUNDS * len(attacks) * 0.9 and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            udp.close()
    errors = events.of_kind("sip.error")
    figures("finding 5", malformed=ROUNDS * len(attacks), sip_errors=len(errors),
            legit_max_s=max(latencies))
    assert len(errors) >= ROUNDS * len(attacks) * 0.9  # UDP on loopback: at most a few lost
    assert all(e.data.get("reason") for e in errors)
    assert max(latencies) < PHONE_TIMEOUT / 2, latencies
