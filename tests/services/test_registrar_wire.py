"""The registrar against the literal REGISTERs of docs/REAL_WIRE.md §1.8 over real
UDP, TCP and TLS sockets: CUCM's answer (§1.6), refresh/keepalive/unregister (§1.7),
bulk and per-line registration (§1.5), refusals, hostile input, NOTIFY (§2.1)."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services import sip_message as sip
from harness.services.registrar import Registrar
from harness.services.sip_binding import TlsSettings
from harness.tls import client_context
from tests.services import sip_examples as ex
from tests.services.sip_support import (
    SipPki,
    directory_policy,
    make_pki,
    read_messages,
    stream_socket,
    udp_socket,
    wait_for,
)


@pytest.fixture(scope="module")
def pki() -> SipPki:
    return make_pki()


def make_registrar(loop: BackgroundLoop, events: EventLog, pki: SipPki, *,
                   mixed: bool = False) -> Registrar:
    tls = TlsSettings(identity=lambda: pki.callmanager,
                      client_cas=lambda: [pki.capf.cert, pki.mfg.cert], source="sip-tls@cucm1")
    return Registrar(events, loop, policy=directory_policy(mixed),  # type: ignore[arg-type]
                     source="sip@cucm1", tls=tls)


@pytest.fixture
def registrar(loop: BackgroundLoop, events: EventLog, pki: SipPki) -> Iterator[Registrar]:
    server = make_registrar(loop, events, pki)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mixed(loop: BackgroundLoop, events: EventLog, pki: SipPki) -> Iterator[Registrar]:
    server = make_registrar(loop, events, pki, mixed=True)
    server.start()
    yield server
    server.stop()


def exchange(registrar: Registrar, template: str, transport: str,
             **changes: Any) -> tuple[list[sip.SipMessage], bytes]:
    """Send one example over `transport`; every message that came back, and the request."""
    host, port = registrar.address
    if transport == "udp":
        with udp_socket() as sock:
            request = _render(template, registrar, sock, "udp", **changes)
            sock.sendto(request, (host, port))
            return [sip.parse(sock.recvfrom(65535)[0])], request
    with stream_socket((host, port)) as sock:
        request = _render(template, registrar, sock, "tcp", **changes)
        sock.sendall(request)
        return read_messages(sock)[0], request


def _render(template: str, registrar: Registrar, sock: socket.socket, transport: str,
            **changes: Any) -> bytes:
    text = ex.render(template, cm=registrar.host, cm_port=registrar.address[1],
                     phone="127.0.0.1", port=sock.getsockname()[1], transport=transport)
    data = text
    for old, new in changes.items():
        data = data.replace(old.encode(), new.encode())
    return data


def contact_of(request: bytes) -> str:
    return sip.parse(request).header("contact") or ""


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize(("template", "device", "dn"), [
    (ex.EXAMPLE_A, "SEP001122334455", "5678"),
    (ex.EXAMPLE_B, "SEP0022446688AA", "6010"),
    (ex.EXAMPLE_C, "SEP001122334455", "2222"),
], ids=["A-7975-refresh", "B-7970-first", "C-7821-first"])
def test_literal_examples_get_cucms_answer(registrar: Registrar, events: EventLog,
                                           transport: str, template: str, device: str,
                                           dn: str) -> None:
    replies, request = exchange(registrar, template, transport)
    if transport == "tcp":
        trying, ok = replies
        assert trying.status == 100 and trying.header("content-length") == "0"
        assert trying.header("call-id") == sip.parse(request).header("call-id")
    else:
        [ok] = replies
    assert ok.status == 200
    assert re.fullmatch(r"<sip:\d+@127\.0\.0\.1>;tag=\d+", ok.header("to") or "")
    assert ok.header("server") == "Cisco-CUCM8.0"
    assert ok.header("expires") == "120"
    assert ok.header("contact") == contact_of(request) + ";x-cisco-newreg"
    assert ok.header("supported") == "X-cisco-srtp-fallback,X-cisco-sis-6.0.0"
    names = [k for k, _ in ok.headers]
    assert names[:6] == ["Via", "From", "To", "Date", "Call-ID", "CSeq"]
    if b"<optionsind>" in request:
        assert ok.header("content-type") == "application/x-cisco-remotecc-response+xml"
        assert b"<code>200</code>" in ok.body and b"<optionsind>" in ok.body
    else:
        assert ok.body == b""
    [event] = events.of_kind("sip.register")
    assert event.phone == device and event.data["dn"] == dn
    assert event.data["transport"] == transport and event.source == "sip@cucm1"
    if template is ex.EXAMPLE_B:
        assert event.data["load"] == "SIP70.8-4-2-30S"
        assert event.data["alarm"] == "reset-restart"
    if template is ex.EXAMPLE_C:
        assert event.data["load"] == "sip78xx.12-1-1-12"
    if transport == "udp":  # a stream binding ends with its connection (closed by now)
        assert device in registrar.registrations


def test_bulk_register_binds_every_line_and_refresh_keeps_the_binding(
        registrar: Registrar, events: EventLog) -> None:
    host, port = registrar.address
    with stream_socket((host, port)) as sock:
        first = _render(ex.EXAMPLE_C, registrar, sock, "tcp")
        sock.sendall(first)
        replies, rest = read_messages(sock)
        assert replies[-1].status == 200
        reg = registrar.registrations["SEP001122334455"]
        assert list(reg.lines) == ["2222", "5678", "5679"]  # line 1 offered them all
        refresh = (first.split(b"\r\n\r\n")[0].replace(b"CSeq: 113", b"CSeq: 114")
                   .replace(b"Content-Type: multipart/mixed; boundary=uniqueBoundary\r\n", b"")
                   .replace(b"Mime-Version: 1.0\r\n", b""))
        refresh = re.sub(rb"Content-Length: \d+", b"Content-Length: 0", refresh) + b"\r\n\r\n"
        sock.sendall(refresh)
        again, _ = read_messages(sock, rest)
    ok = again[-1]
    assert ok.status == 200 and not (ok.header("contact") or "").endswith("x-cisco-newreg")
    assert ok.header("to") == replies[-1].header("to"), "the dialog keeps its To tag"
    assert [e.data["cseq"] for e in events.of_kind("sip.refresh")] == [114]
    assert len(events.of_kind("sip.register")) == 1


def test_second_line_register_has_no_newreg(registrar: Registrar) -> None:
    exchange(registrar, ex.EXAMPLE_A, "udp")
    replies, _ = exchange(registrar, ex.EXAMPLE_A, "udp", **{
        "5678@": "5679@", "0de51424": "0de51425", "9e9e1ffb": "9e9e1ffc"})
    assert replies[0].status == 200
    assert not (replies[0].header("contact") or "").endswith("x-cisco-newreg")
    assert set(registrar.registrations["SEP001122334455"].lines) == {"5678", "5679"}


def test_backup_keepalive_is_answered_without_a_binding(registrar: Registrar,
                                                         events: EventLog) -> None:
    replies, _ = exchange(registrar, ex.EXAMPLE_A, "udp", **{
        ";transport=udp>": ";transport=udp>",
        '="437"': '="437";expires=0;cisco-keep-alive', "Expires: 3600": "Expires: 0"})
    assert replies[0].status == 200
    assert not registrar.registrations
    assert events.of_kind("sip.keepalive") and not events.of_kind("sip.register")


def test_expires_zero_unregisters(registrar: Registrar, events: EventLog) -> None:
    exchange(registrar, ex.EXAMPLE_A, "udp")
    assert "SEP001122334455" in registrar.registrations
    replies, _ = exchange(registrar, ex.EXAMPLE_A, "udp",
                          **{"Expires: 3600": "Expires: 0", "11435": "11436"})
    assert replies[0].status == 200
    assert not registrar.registrations
    assert events.of_kind("sip.unregister")[0].data["dn"] == "5678"


def test_wrong_dn_is_forbidden_with_a_warning(registrar: Registrar, events: EventLog) -> None:
    replies, _ = exchange(registrar, ex.EXAMPLE_A, "tcp", **{"5678@": "9999@"})
    refused = replies[-1]
    assert refused.status == 403
    assert re.fullmatch(r'399 127\.0\.0\.1 "9999 is not a line of SEP001122334455"',
                        refused.header("warning") or "")
    assert not registrar.registrations and not events.of_kind("sip.register")
    assert events.of_kind("sip.register_rejected")[0].data["status"] == 403


def test_unknown_device_autoregisters_unless_mixed(registrar: Registrar, mixed: Registrar,
                                                   events: EventLog) -> None:
    unknown = {"001122334455": "00AABBCCDDEE", "SEP001122334455": "SEP00AABBCCDDEE"}
    assert exchange(registrar, ex.EXAMPLE_A, "udp", **unknown)[0][0].status == 200
    assert "SEP00AABBCCDDEE" in registrar.registrations
    refused = exchange(mixed, ex.EXAMPLE_A, "tcp", **unknown)[0][-1]
    assert refused.status == 403 and "mixed mode" in (refused.header("warning") or "")
    assert "SEP00AABBCCDDEE" not in mixed.registrations


def test_device_is_named_by_sip_instance_when_devicename_is_absent(
        registrar: Registrar, events: EventLog) -> None:
    """Example B (7970 8.4) has no devicename: the MAC of +sip.instance names it."""
    exchange(registrar, ex.EXAMPLE_B, "udp")
    assert events.of_kind("sip.register")[0].phone == "SEP0022446688AA"


@pytest.mark.parametrize(("old", "new", "why"), [
    ("Content-Length: 0", "Content-Length: \u00b2", "Content-Length"),
    ("Expires: 3600", "Expires: " + "9" * 5000, "Expires"),
    ("CSeq: 11435 REGISTER", "CSeq: 1x REGISTER", "CSeq"),
    ("CSeq: 11435 REGISTER", "CSeq: 11435 INVITE", "CSeq"),
    ('+u.sip!devicename.ccm.cisco.com="SEP001122334455"', "x=1", "identity"),
], ids=["superscript-length", "huge-expires", "bad-cseq", "cseq-method", "no-identity"])
def test_malformed_register_is_a_bad_request_and_service_goes_on(
        registrar: Registrar, events: EventLog, old: str, new: str, why: str) -> None:
    changes = {old: new}
    if "devicename" in old:
        changes['+sip.instance="<urn:uuid:00000000-0000-0000-0000-001122334455>"'] = "y=2"
    with udp_socket() as sock:
        request = _render(ex.EXAMPLE_A, registrar, sock, "udp", **changes)
        sock.sendto(request, registrar.address)
        try:
            reply: sip.SipMessage | None = sip.parse(sock.recvfrom(65535)[0])
        except TimeoutError:
            reply = None  # dropped (unparsable): only the event tells
    assert reply is None or reply.status == 400
    assert any(why.lower() in e.data["reason"].lower() for e in events.of_kind("sip.error"))
    assert exchange(registrar, ex.EXAMPLE_A, "udp")[0][0].status == 200


@pytest.mark.parametrize("garbage", [
    b"X" * 70000,  # headers without end
    b"REGISTER sip:x SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n",
    b"REGISTER sip:x SIP/2.0\r\nContent-Length: \xc2\xb2\r\n\r\n",
])
def test_tcp_framing_errors_close_that_connection_only(
        registrar: Registrar, events: EventLog, garbage: bytes) -> None:
    with stream_socket(registrar.address) as bad:
        bad.sendall(garbage)
        assert bad.recv(100) == b""
    assert events.of_kind("sip.error")
    assert exchange(registrar, ex.EXAMPLE_A, "tcp")[0][-1].status == 200


def test_truncated_datagram_is_recorded(registrar: Registrar, events: EventLog) -> None:
    with udp_socket() as sock:
        request = _render(ex.EXAMPLE_B, registrar, sock, "udp")
        sock.sendto(request[:-100], registrar.address)
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recvfrom(65535)
    assert "shorter than its Content-Length" in events.of_kind("sip.error")[0].data["reason"]


def test_notify_service_control_goes_back_on_the_connection(registrar: Registrar,
                                                            events: EventLog) -> None:
    with stream_socket(registrar.address) as sock:
        request = _render(ex.EXAMPLE_C, registrar, sock, "tcp")
        sock.sendall(request)
        _, rest = read_messages(sock)
        assert registrar.notify("SEP001122334455", "restart")
        [notify], _ = read_messages(sock, rest)
        port = sock.getsockname()[1]
    assert notify.start_line == f"NOTIFY sip:2222@127.0.0.1:{port} SIP/2.0"
    assert re.fullmatch(r"<sip:127\.0\.0\.1>;tag=\d+", notify.header("from") or "")
    assert notify.header("to") == "<sip:2222@127.0.0.1>"
    assert notify.header("event") == "service-control"
    assert notify.header("subscription-state") == "active"
    assert notify.header("content-type") == "text/plain"
    assert notify.header("user-agent") == "Cisco-CUCM8.0"
    assert notify.header("cseq") == "101 NOTIFY" and notify.header("date")
    assert notify.header("contact") == f"<sip:127.0.0.1:{registrar.address[1]};transport=tcp>"
    lines = notify.body.decode().split("\r\n")
    assert lines[0] == "action=restart"
    assert lines[1] == "RegisterCallId={00112233-44550003-255b99f4-783a63d4@127.0.0.1}"
    assert lines[2].startswith("ConfigVersionStamp={") and lines[3] == "DialplanVersionStamp={}"
    assert lines[4].startswith("SoftkeyVersionStamp={")


def test_closed_connection_unregisters(registrar: Registrar, events: EventLog) -> None:
    exchange(registrar, ex.EXAMPLE_A, "tcp")
    assert wait_for(events, "sip.unregister")[0].data["reason"] == "connection closed"
    assert not registrar.notify("SEP001122334455", "reset")


# --- TLS (mixed mode) ------------------------------------------------------------------
def tls_exchange(registrar: Registrar, identity: Any, template: str = ex.EXAMPLE_A,
                 **changes: str) -> list[sip.SipMessage]:
    context = client_context(identity)
    raw = stream_socket((registrar.host, registrar.tls_port))
    request = _render(template, registrar, raw, "tls", **changes)
    with context.wrap_socket(raw) as sock:
        sock.sendall(request)
        return read_messages(sock)[0]


def test_tls_with_an_lsc_registers(mixed: Registrar, pki: SipPki, events: EventLog) -> None:
    replies = tls_exchange(mixed, pki.lsc)
    assert [r.status for r in replies] == [100, 200]
    [event] = events.of_kind("sip.register")
    assert event.data["transport"] == "tls" and event.source == "sip-tls@cucm1"
    assert mixed.tls_port != mixed.address[1]


def test_tls_with_a_mic_registers_and_needs_the_right_device(
        mixed: Registrar, pki: SipPki) -> None:
    assert tls_exchange(mixed, pki.mic_other, ex.EXAMPLE_B)[-1].status == 200
    refused = tls_exchange(mixed, pki.mic_other)[-1]  # the MIC of another phone
    assert refused.status == 403 and "certificate" in (refused.header("warning") or "")


@pytest.mark.parametrize("who", ["nobody", "stranger"])
def test_tls_without_a_trusted_client_certificate_is_refused(
        mixed: Registrar, pki: SipPki, events: EventLog, who: str) -> None:
    identity = None if who == "nobody" else pki.stranger
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        replies = tls_exchange(mixed, identity)
        assert replies, "no answer without a trusted certificate"
        raise ConnectionError("answered")  # unreachable when replies is empty
    assert not mixed.registrations
    assert "TLS handshake failed" in wait_for(events, "sip.error")[0].data["reason"]
    assert tls_exchange(mixed, pki.lsc)[-1].status == 200


def test_reset_after_our_restart_waits_for_the_phone_to_come_back(
        registrar: Registrar, events: EventLog) -> None:
    """A CallManager restart cuts TCP phones off; a reset issued before they reconnect is
    delivered once they have registered again (within a bound), not lost."""
    with stream_socket(registrar.address) as sock:
        sock.sendall(_render(ex.EXAMPLE_A, registrar, sock, "tcp"))
        read_messages(sock)
        registrar.restart()
        assert sock.recv(100) == b"", "the restart closed the connection"
    assert not events.of_kind("sip.unregister"), "our own restart is not the phone leaving"
    assert registrar.notify("SEP001122334455", "reset")
    assert events.of_kind("sip.notify_deferred")
    with stream_socket(registrar.address) as sock:
        sock.sendall(_render(ex.EXAMPLE_A, registrar, sock, "tcp"))
        replies, rest = read_messages(sock)
        assert replies[-1].status == 200
        [notify], _ = read_messages(sock, rest)
    assert notify.method == "NOTIFY" and notify.body.startswith(b"action=reset")
    assert len(events.of_kind("sip.register")) == 1, "the pre-reset comeback is no registration"
    assert events.of_kind("sip.reconnect")
    assert not registrar.notify("SEP0022446688AA", "reset"), "never registered: nothing to do"
