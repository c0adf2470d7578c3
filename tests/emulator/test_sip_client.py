"""The twin's SIP agent registers with the harness registrar and obeys NOTIFY."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.registrar import Registrar
from harness.services.sip_binding import Admission
from phone_drivers.emulator.sip_client import SipAgent, SipRegistrationError

DEVICE = "SEP00AABBCCDD01"


@pytest.fixture
def registrar() -> Iterator[Registrar]:
    with BackgroundLoop() as loop:
        server = Registrar(EventLog(), loop)
        server.start()
        yield server
        server.stop()


def test_register_then_reset_and_restart_reach_the_phone(registrar: Registrar) -> None:
    actions: list[str] = []

    async def scenario() -> int:
        agent = SipAgent(DEVICE, "127.0.2.1", actions.append)
        status = await agent.register(registrar.address)
        await asyncio.to_thread(registrar.notify, DEVICE, "reset")
        await asyncio.to_thread(registrar.notify, DEVICE, "restart")
        for _ in range(100):
            if len(actions) == 2:
                break
            await asyncio.sleep(0.02)
        agent.close()
        return status

    assert asyncio.run(scenario()) == 200
    assert actions == ["reset", "restart"]
    assert registrar.events.of_kind("sip.register")[0].phone == DEVICE
    assert registrar.events.of_kind("sip.response"), "the phone must answer the NOTIFY"


def test_refused_registration_returns_the_status() -> None:
    with BackgroundLoop() as loop:
        server = Registrar(EventLog(), loop, policy=lambda d, dn: Admission(403, "Forbidden"))
        server.start()
        try:
            agent = SipAgent(DEVICE, "127.0.2.2", lambda a: None)
            assert asyncio.run(agent.register(server.address)) == 403
        finally:
            server.stop()


def test_silent_registrar_raises_within_the_retry_budget() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        agent = SipAgent(DEVICE, "127.0.2.3", lambda a: None)
        with pytest.raises(SipRegistrationError):
            asyncio.run(agent.register(silent.getsockname(), timeout=0.1, retries=1))
