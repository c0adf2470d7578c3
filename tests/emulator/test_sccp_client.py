"""The twin's SCCP station against the SCCP endpoint: the Register it sends (twin rule,
docs/REAL_WIRE.md §3.8), keepalives, Reset 1/2/3, rejection, an absent call manager."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services import sccp_wire as wire
from harness.services.sccp import SccpEndpoint
from harness.services.sip_binding import Admission
from phone_drivers.emulator.sccp_client import (
    SccpRegistrationError,
    SccpStation,
    StationInfo,
)

DEVICE = "SEP00AABBCCDD07"
INFO = StationInfo(DEVICE, "00AABBCCDD07", "127.0.2.7", 434, "SCCP42.9-4-2SR3-1S")


@pytest.fixture
def endpoint() -> Iterator[SccpEndpoint]:
    with BackgroundLoop() as loop:
        server = SccpEndpoint(EventLog(), loop, None, keepalive=1)
        server.start()
        yield server
        server.stop()


def test_register_bytes_follow_the_79x1_form() -> None:
    data = SccpStation(INFO, lambda a: None, lambda *a, **k: None).register_message()
    raw = wire.encode(data, wire.header_version(17))
    length, version, message_id = struct.unpack_from("<III", raw)
    body = raw[12:]
    assert (length, version, message_id) == (128, 0x11, 1)
    assert body[:16] == DEVICE.encode() + b"\0"
    assert struct.unpack_from("<I", body, 20) == (0,)  # instance 0 (79x1)
    assert body[24:28] == socket.inet_aton("127.0.2.7")
    assert struct.unpack_from("<I", body, 28) == (434,) and body[40] == 17
    assert body[52:64] == bytes.fromhex("00AABBCCDD07") + bytes(6)  # raw MAC
    assert body[92:124].rstrip(b"\0") == b"SCCP42.9-4-2SR3-1S"


def test_registers_keeps_alive_and_obeys_every_reset_type(endpoint: SccpEndpoint) -> None:
    actions: list[str] = []
    records: list[tuple[str, dict[str, Any]]] = []

    async def scenario() -> tuple[bool, int]:
        station = SccpStation(INFO, actions.append, lambda k, **d: records.append((k, d)),
                              keepalive_scale=0.1)
        outcome = await station.register(endpoint.address)
        for _ in range(100):  # acked interval 1 s × 0.1
            if station.acked_keepalives >= 2:
                break
            await asyncio.sleep(0.02)
        for kind in (1, 2, 3):
            await asyncio.to_thread(endpoint.reset, DEVICE, kind)
            await station.wait_closed()
            if kind < 3:
                await station.register(endpoint.address)
        station.close()
        return outcome.registered, station.acked_keepalives

    registered, acked = asyncio.run(scenario())
    assert registered and acked >= 2
    assert actions == ["reset", "restart", "restart"]
    assert [d["type"] for k, d in records if k == "phone.sccp_reset"] == [1, 2, 3]
    assert endpoint.keepalive_count[DEVICE] >= 2
    connections = len(endpoint.events.of_kind("sccp.register"))
    assert len(endpoint.events.of_kind("sccp.keepalive")) <= connections  # counted, not logged
    [first, *_] = endpoint.events.of_kind("sccp.register")
    assert first.data["load"] == INFO.load and first.data["device_type"] == 434


def test_rejected_registration_says_so() -> None:
    with BackgroundLoop() as loop:
        server = SccpEndpoint(EventLog(), loop, None,
                              policy=lambda d, n: Admission(404, "Not Found"))
        server.start()
        try:
            station = SccpStation(INFO, lambda a: None, lambda *a, **k: None)
            outcome = asyncio.run(station.register(server.address))
        finally:
            server.stop()
    assert not outcome.registered and outcome.text == "Device Unknown"


def test_absent_call_manager_raises_within_the_timeout() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    station = SccpStation(INFO, lambda a: None, lambda *a, **k: None, timeout=1.0)
    with pytest.raises(SccpRegistrationError):
        asyncio.run(station.register(("127.0.0.1", port)))
