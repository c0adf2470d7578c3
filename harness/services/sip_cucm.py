"""What Unified CM puts on the wire towards SIP phones: its answers and its NOTIFY.

The registrar (sockets, bindings) and these message forms are kept apart so the
forms can be read against docs/REAL_WIRE.md §1.6 and §2.1 line by line. Choices
where REAL_WIRE is [UNCERTAIN] are made here, once:

* `Supported: X-cisco-sis-<v>` for CUCM 8.x/9.x is 6.0.0, the value seen from
  the CUCM answering a 9.3 phone in example A (8.0.0 on 10.x/11.x, 9.0.0 on 12.x,
  10.0.0 from 14 on, as observed).
* A refused registration is `403 Forbidden` with `Warning: 399 <host> "<text>"`,
  the only rejection form seen from CUCM (§1.6); the text says why.
* NOTIFY stamps default to all zeros, which the phone reads as "stale, refetch".
"""

from __future__ import annotations

import email.utils
import secrets

from harness.services import sip_message as sip

KEEPALIVE_INTERVAL = 120  # service parameter SIP Station KeepAlive Interval (§1.6)
ZERO_STAMP = "0000000000000000"
_OPTIONS_ACCEPTED = (
    '<combine max="6"><remotecc><status></status></remotecc>'
    "<service-control></service-control></combine>"
    '<dialog usage="hook status"><unot></unot></dialog>'
    '<dialog usage="shared line"><unot></unot></dialog>'
    '<presence usage="blf speed dial"><unot></unot></presence><joinreq></joinreq>')
REMOTECC_RESPONSE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<x-cisco-remotecc-response><response>'
    f"<code>200</code><optionsind>{_OPTIONS_ACCEPTED}</optionsind>"
    "</response></x-cisco-remotecc-response>\n").encode()


def server_name(release: tuple[int, int]) -> str:
    """`Cisco-CUCM<major.minor>`: CUCM's Server and User-Agent value."""
    return f"Cisco-CUCM{release[0]}.{release[1]}"


def sis_version(release: tuple[int, int]) -> str:
    """The server SIS version CUCM advertises in `X-cisco-sis-<v>` (module docstring)."""
    major = release[0]
    if major >= 14:
        return "10.0.0"
    if major >= 12:
        return "9.0.0"
    if major >= 10:
        return "8.0.0"
    return "6.0.0"


def date() -> str:
    """RFC 1123 date in GMT, as CUCM writes it."""
    return email.utils.formatdate(usegmt=True)


def decimal_tag() -> str:
    """CUCM's tags are decimal numbers (`tag=1708299782`)."""
    return str(1_000_000_000 + secrets.randbelow(3_000_000_000))


def _dialog(request: sip.SipMessage, to_tag: str | None) -> list[tuple[str, str]]:
    """Via, From, To (with our tag), Date, Call-ID, CSeq: the order of example A."""
    headers = [(k, v) for k, v in request.headers if k.lower() == "via"]
    headers.append(("From", request.header("from") or ""))
    to = request.header("to") or ""
    headers.append(("To", f"{to};tag={to_tag}" if to_tag and ";tag=" not in to else to))
    headers += [("Date", date()), ("Call-ID", request.header("call-id") or ""),
                ("CSeq", request.header("cseq") or "")]
    return headers


def trying(request: sip.SipMessage) -> sip.SipMessage:
    """`100 Trying`, sent first on TCP/TLS (§1.6)."""
    return sip.SipMessage("SIP/2.0 100 Trying", _dialog(request, None))


def register_ok(request: sip.SipMessage, *, release: tuple[int, int], to_tag: str,
                expires: int, newreg: bool) -> sip.SipMessage:
    """`200 OK` to a REGISTER: Contact echoed byte for byte, `x-cisco-newreg` on a
    device's first registration, the remotecc answer when the phone sent optionsind."""
    contact = request.header("contact") or ""
    headers = [
        *_dialog(request, to_tag),
        ("Server", server_name(release)),
        ("Expires", str(expires)),
        ("Contact", contact + (";x-cisco-newreg" if newreg else "")),
        ("Supported", f"X-cisco-srtp-fallback,X-cisco-sis-{sis_version(release)}"),
    ]
    body = b""
    if b"<optionsind>" in request.body:
        headers.append(("Content-Type", "application/x-cisco-remotecc-response+xml"))
        body = REMOTECC_RESPONSE
    return sip.SipMessage("SIP/2.0 200 OK", headers, body)


def refused(request: sip.SipMessage, *, release: tuple[int, int], host: str, status: int,
            reason: str, text: str) -> sip.SipMessage:
    """A rejection with CUCM's `Warning: 399 <host> "<text>"` (module docstring)."""
    safe = text.replace('"', "'")
    return sip.SipMessage(f"SIP/2.0 {status} {reason}", [
        *_dialog(request, decimal_tag()),
        ("Server", server_name(release)), ("Warning", f'399 {host} "{safe}"')])


def bad_request(request: sip.SipMessage, release: tuple[int, int], why: str) -> sip.SipMessage:
    return sip.SipMessage("SIP/2.0 400 Bad Request", [
        *_dialog(request, decimal_tag()),
        ("Server", server_name(release)), ("Warning", f'399 - "{why.replace(chr(34), "")}"')])


def service_control(*, action: str, dn: str, phone: tuple[str, int], host: str, port: int,
                    transport: str, release: tuple[int, int], register_call_id: str,
                    config_stamp: str = ZERO_STAMP, softkey_stamp: str = ZERO_STAMP
                    ) -> sip.SipMessage:
    """The out-of-dialog `NOTIFY` with `Event: service-control` (§2.1)."""
    body = "\r\n".join([
        f"action={action}", f"RegisterCallId={{{register_call_id}}}",
        f"ConfigVersionStamp={{{config_stamp}}}", "DialplanVersionStamp={}",
        f"SoftkeyVersionStamp={{{softkey_stamp}}}", ""]).encode()
    call_id = "-".join(secrets.token_hex(4) for _ in range(4)) + f"@{host}"
    return sip.SipMessage(f"NOTIFY sip:{dn}@{phone[0]}:{phone[1]} SIP/2.0", [
        ("Via", f"SIP/2.0/{transport.upper()} {host}:{port};branch=z9hG4bK{secrets.token_hex(6)}"),
        ("From", f"<sip:{host}>;tag={decimal_tag()}"),
        ("To", f"<sip:{dn}@{phone[0]}>"),
        ("Call-ID", call_id),
        ("CSeq", "101 NOTIFY"),
        ("Max-Forwards", "70"),
        ("Date", date()),
        ("User-Agent", server_name(release)),
        ("Event", "service-control"),
        ("Subscription-State", "active"),
        ("Contact", f"<sip:{host}:{port};transport={transport.lower()}>"),
        ("Content-Type", "text/plain"),
    ], body)
