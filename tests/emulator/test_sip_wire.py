"""What the twin's SIP user agent puts on the wire, checked against docs/REAL_WIRE.md §1.2
by a bare TCP/UDP listener (not our registrar), against our registrar over TLS, and by
tshark's SIP dissector on a loopback capture."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services import sip_message as sip
from harness.services.registrar import Registrar
from harness.services.sip_binding import TlsSettings
from phone_drivers.capture import CaptureUnavailable, PacketCapture
from phone_drivers.capture_endpoints import Endpoint, Service
from phone_drivers.emulator.sip_client import SipAgent, SipLine, SipRegistrationError
from phone_drivers.emulator.sip_forms import OPTIONS, short_version
from tests.services.sip_support import make_pki

MAC = "00AABBCCDD07"
DEVICE = f"SEP{MAC}"
LINES = [SipLine("1001", "6270f0fa-80fe-4b1e-9c3a-0000000000a1"),
         SipLine("1002", "6270f0fa-80fe-4b1e-9c3a-0000000000a2")]
LOAD_79 = "SIP62.9-4-2SR3-1S"


class Listener:
    """A bare SIP peer: records every request and answers 200 OK (Expires 120)."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, tuple[str, int]]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        name = self.server.sockets[0].getsockname()
        return str(name[0]), int(name[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer, peer = b"", writer.get_extra_info("peername")
        while chunk := await reader.read(65535):
            buffer += chunk
            while (frame := sip.split_frame(buffer)) is not None:
                data, buffer = frame
                self.requests.append((data, peer))
                reply = sip.response(sip.parse(data), 200, "OK", [("Expires", "120")])
                writer.write(reply.encode())
        writer.close()


def twin(*, model: str = "7962", load: str = LOAD_79, boot: str = "power",
         transport: str = "tcp", identity: object = None,
         actions: list[str] | None = None) -> SipAgent:
    return SipAgent(DEVICE, "127.0.3.7", (actions if actions is not None else []).append,
                    model=model, load=load, lines=LINES, transport=transport,
                    identity=identity, boot=boot)  # type: ignore[arg-type]


def run_listener(agent: SipAgent, refresh: bool = False) -> list[tuple[bytes, tuple[str, int]]]:
    async def scenario() -> list[tuple[bytes, tuple[str, int]]]:
        listener = Listener()
        server = await listener.start()
        assert await agent.register(server) == 200
        if refresh:
            assert await agent.refresh() == 200
        agent.close()
        return listener.requests
    return asyncio.run(scenario())


def test_first_registers_are_the_real_form_one_per_line() -> None:
    requests = run_listener(twin())
    assert len(requests) == 2
    (first, peer), (second, peer2) = requests
    assert peer == peer2, "one persistent TCP connection"
    message = sip.parse(first)
    names = [k for k, _ in message.headers]
    assert names == ["Via", "From", "To", "Call-ID", "Max-Forwards", "Date", "CSeq",
                     "User-Agent", "Contact", "Supported", "Reason", "Expires", "Content-Type",
                     "Mime-Version", "Content-Length"]
    port = peer[1]
    assert re.fullmatch(rf"SIP/2\.0/TCP 127\.0\.3\.7:{port};branch=z9hG4bK[0-9a-f]{{8}}",
                        message.header("via") or "")
    assert message.start_line.startswith("REGISTER sip:127.0.0.1:")
    assert re.fullmatch(r"<sip:1001@127\.0\.0\.1>;tag=00aabbccdd07[0-9a-f]{12}-[0-9a-f]{8}",
                        message.header("from") or "")
    assert message.header("to") == "<sip:1001@127.0.0.1>"
    assert re.fullmatch(r"00aabbcc-dd07[0-9a-f]{4}-[0-9a-f]{8}-[0-9a-f]{8}@127\.0\.3\.7",
                        message.header("call-id") or "")
    assert message.header("user-agent") == "Cisco-CP7962G/9.4.2"
    assert message.header("contact") == (
        f"<sip:{LINES[0].contact}@127.0.3.7:{port};transport=tcp>;"
        '+sip.instance="<urn:uuid:00000000-0000-0000-0000-00aabbccdd07>";'
        f'+u.sip!devicename.ccm.cisco.com="{DEVICE}";+u.sip!model.ccm.cisco.com="404"')
    assert message.header("supported", ).endswith("X-cisco-sis-6.0.0,X-cisco-xsi-8.5.1")
    assert message.header("reason") == (
        f'SIP;cause=200;text="cisco-alarm:25 Name={DEVICE} Load={LOAD_79} Last=initialized"')
    assert message.header("expires") == "3600"
    assert message.header("content-type") == "multipart/mixed; boundary=uniqueBoundary"
    assert b"<bulkregisterreq>" in message.body and OPTIONS.encode() in message.body
    line2 = sip.parse(second)
    assert line2.header("to") == "<sip:1002@127.0.0.1>"
    assert line2.header("call-id") != message.header("call-id")
    assert b"<bulkregisterreq>" not in line2.body, "only line 1 offers the bulk register"
    assert LINES[1].contact in (line2.header("contact") or "")


def test_refresh_reuses_the_call_id_with_the_next_cseq_and_no_body() -> None:
    requests = run_listener(twin(boot="restart"), refresh=True)
    first, refresh = sip.parse(requests[0][0]), sip.parse(requests[2][0])
    assert refresh.header("call-id") == first.header("call-id")
    assert sip.cseq(refresh)[0] == sip.cseq(first)[0] + 1
    assert refresh.header("reason") is None and refresh.body == b""
    assert [k for k, _ in refresh.headers][-2:] == ["Content-Length", "Expires"], \
        "79xx refreshes carry Expires after Content-Length"
    assert "cisco-alarm:23" in (first.header("reason") or "")
    assert "Last=reset-restart" in (first.header("reason") or "")


def test_88xx_form_has_session_id_and_active_load() -> None:
    requests = run_listener(twin(model="8841", load="sip88xx.12-1-1-12", boot="reset"))
    message = sip.parse(requests[0][0])
    assert message.header("user-agent") == "Cisco-CP8841/12.1.1"
    assert re.fullmatch(r"[0-9a-f]{20}00aabbccdd07;remote=0{32}", message.header("session-id")
                        or "")
    assert ("ActiveLoad=sip88xx.12-1-1-12.loads InactiveLoad=sip88xx.12-1-1-12.loads "
            "Last=reset-reset") in (message.header("reason") or "")
    assert '+u.sip!model.ccm.cisco.com="683"' in (message.header("contact") or "")


def test_old_firmware_omits_devicename() -> None:
    requests = run_listener(twin(load="SIP62.8-4-2S"))
    message = sip.parse(requests[0][0])
    assert "devicename" not in (message.header("contact") or "")
    assert message.header("user-agent") == "Cisco-CP7962G/8.4.2"
    assert (message.header("supported") or "").endswith("X-cisco-sis-3.0.0,X-cisco-xsi-7.0.1")


@pytest.mark.parametrize(("load", "short"), [("SIP42.9-4-2SR3-1S", "9.4.2"),
                                             ("SIP70.8-4-2-30S", "8.4.2"),
                                             ("sip88xx.12-1-1-12", "12.1.1"), ("junk", "0.0")])
def test_short_version(load: str, short: str) -> None:
    assert short_version(load) == short


@pytest.fixture
def registrar() -> Iterator[Registrar]:
    pki = make_pki()
    with BackgroundLoop() as loop:
        server = Registrar(EventLog(), loop, tls=TlsSettings(
            identity=lambda: pki.callmanager, client_cas=lambda: [pki.capf.cert]))
        server.start()
        server.pki = pki  # type: ignore[attr-defined]
        yield server
        server.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_registers_with_the_registrar_and_obeys_its_notify(registrar: Registrar,
                                                           transport: str) -> None:
    actions: list[str] = []
    pki = registrar.pki  # type: ignore[attr-defined]
    lsc = make_lsc(pki)
    agent = twin(transport=transport, identity=lsc if transport == "tls" else None,
                 actions=actions)
    port = registrar.tls_port if transport == "tls" else registrar.address[1]

    async def scenario() -> int:
        status = await agent.register(("127.0.0.1", port))
        assert await asyncio.to_thread(registrar.notify, DEVICE, "restart")
        for _ in range(100):
            if actions:
                break
            await asyncio.sleep(0.02)
        agent.close()
        return status

    assert asyncio.run(scenario()) == 200
    assert actions == ["restart"]
    [event] = [e for e in registrar.events.of_kind("sip.register") if e.data["first"]]
    assert event.phone == DEVICE and event.data["transport"] == transport
    assert event.data["load"] == LOAD_79
    assert registrar.events.of_kind("sip.register")[-1].data["lines"] == ["1001", "1002"]


def make_lsc(pki: object) -> object:
    from tests.services.sip_support import make_identity
    return make_identity(DEVICE, pki.capf)  # type: ignore[attr-defined]


def test_notify_for_another_registration_is_answered_but_not_obeyed() -> None:
    actions: list[str] = []
    agent = twin(actions=actions)
    notify = sip.SipMessage("NOTIFY sip:1001@127.0.3.7:5060 SIP/2.0", [
        ("Via", "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1"), ("From", "<sip:127.0.0.1>;tag=1"),
        ("To", "<sip:1001@127.0.3.7>"), ("Call-ID", "x@127.0.0.1"), ("CSeq", "101 NOTIFY"),
        ("Event", "service-control")], b"action=reset\r\nRegisterCallId={not-ours}\r\n")

    async def scenario() -> None:
        await agent._dispatch(notify.encode(), ("127.0.0.1", 5060))
    asyncio.run(scenario())
    assert actions == []


# --- tshark -----------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_decodes_the_twin_registering_over_tcp(registrar: Registrar,
                                                      tmp_path: Path) -> None:
    pcap = tmp_path / "register.pcap"
    host, port = registrar.address
    capture = PacketCapture([Endpoint(Service.SIP, host, port)], pcap_path=pcap)
    try:
        capture.start()
    except CaptureUnavailable as exc:
        pytest.skip(exc.reason)
    try:
        agent = twin()

        async def scenario() -> int:
            status = await agent.register((host, port))
            agent.close()
            return status
        assert asyncio.run(scenario()) == 200
    finally:
        capture.stop()
    fields = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"tcp.port=={port},sip", "-Y", "sip",
         "-T", "fields", "-E", "separator=|", "-e", "sip.Method", "-e", "sip.Status-Code",
         "-e", "sip.contact.uri", "-e", "sip.User-Agent", "-e", "sip.Reason",
         "-e", "sip.contact.parameter", "-e", "_ws.malformed"],
        capture_output=True, text=True, timeout=30, check=True).stdout
    rows = [line.split("|") for line in fields.splitlines() if line.startswith("REGISTER")]
    assert len(rows) == 2, fields
    _, _, uri, agent_name, reason, params, malformed = rows[0]
    assert uri.startswith(f"sip:{LINES[0].contact}@127.0.3.7:")
    assert agent_name == "Cisco-CP7962G/9.4.2"
    assert f"Load={LOAD_79}" in reason
    assert f'+u.sip!devicename.ccm.cisco.com="{DEVICE}"' in params
    assert malformed == ""


def test_tls_refuses_a_callmanager_the_phone_does_not_trust(registrar: Registrar) -> None:
    pki = registrar.pki  # type: ignore[attr-defined]
    seen: list[bytes] = []

    def judge(der: bytes) -> bool:
        seen.append(der)
        return False

    agent = SipAgent(DEVICE, "127.0.3.7", lambda a: None, lines=LINES, transport="tls",
                     identity=make_lsc(pki), judge=judge)  # type: ignore[arg-type]
    with pytest.raises(SipRegistrationError, match="not in the CTL/ITL"):
        asyncio.run(agent.register(("127.0.0.1", registrar.tls_port)))
    assert seen and not registrar.events.of_kind("sip.register")
