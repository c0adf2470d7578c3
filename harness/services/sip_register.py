"""What one REGISTER says, read the way CUCM reads it (docs/REAL_WIRE.md §1.2-§1.5).

The device comes from the Contact's `+u.sip!devicename.ccm.cisco.com`, else from the
MAC closing `+sip.instance` (firmware without devicename, §1.3), else from a bare
`sip:SEP<MAC>@` user (a third-party form); the line from the To/From user;
the load and the last restart cause from the cisco-alarm Reason (§1.4). Anything
missing or malformed is a `FormatError` (the registrar answers 400).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.formats.errors import FormatError
from harness.services import sip_message as sip


@dataclass(frozen=True)
class RegisterFacts:
    """The facts of one REGISTER the registrar acts on (docs/REAL_WIRE.md §1.2-§1.5)."""

    device: str
    dn: str
    call_id: str
    cseq: int
    expires: int
    keep_alive: bool
    bulk: bool
    contact_host: tuple[str, int]
    model: str | None
    load: str | None
    alarm: str | None
    user_agent: str | None

    @classmethod
    def read(cls, message: sip.SipMessage) -> RegisterFacts:
        contact = message.header("contact")
        call_id = message.header("call-id")
        if not contact or not call_id or not message.header("from"):
            raise FormatError("REGISTER lacks Contact, Call-ID or From", 0)
        number, method = sip.cseq(message)
        if method != "REGISTER":
            raise FormatError("CSeq method is not REGISTER", 0)
        cparams = sip.params(contact)
        device = cparams.get(sip.DEVICENAME, "").upper() or None
        if device is None and sip.INSTANCE in cparams:
            device = sip.instance_device(cparams[sip.INSTANCE])
        if device is None:
            device = message.device_name()  # a bare sip:SEP<MAC>@ (third-party form)
        if device is None or len(device) != 15 or not device.startswith("SEP"):
            raise FormatError("REGISTER without a Cisco device identity "
                              "(devicename, sip.instance or SEP<MAC>)", 0)
        dn = sip.uri_user(message.header("to")) or sip.uri_user(message.header("from"))
        if dn is None:
            raise FormatError("REGISTER without a line in To/From", 0)
        if "expires" in cparams:
            expires = sip.number(cparams["expires"], "Contact expires")
        elif message.header("expires") is not None:
            expires = sip.number(message.header("expires"), "Expires")
        else:
            expires = 3600
        reason = message.header("reason") or ""
        return cls(
            device=device, dn=dn.upper() if dn.upper() == device else dn, call_id=call_id,
            cseq=number, expires=expires,
            keep_alive=expires == 0 and "cisco-keep-alive" in cparams,
            bulk=b"<bulkregisterreq>" in message.body, contact_host=_uri_host(contact),
            model=cparams.get(sip.MODEL), load=_load(reason),
            alarm=_alarm(reason), user_agent=message.header("user-agent"))


def _uri_host(contact: str) -> tuple[str, int]:
    inner = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact
    hostport = inner.split(";", 1)[0].rpartition("@")[2]
    host, _, port = hostport.partition(":")
    return host, int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else 5060


def _load(reason: str) -> str | None:
    """`Load=<id>` (79xx) or `ActiveLoad=<id>.loads` (78xx/88xx) of the cisco-alarm."""
    for word in reason.replace('"', " ").split():
        key, _, value = word.partition("=")
        if key in ("Load", "ActiveLoad") and value:
            return value.removesuffix(".loads")
    return None


def _alarm(reason: str) -> str | None:
    for word in reason.replace('"', " ").split():
        if word.startswith("Last="):
            return word[5:]
    return None


