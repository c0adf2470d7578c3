"""The REGISTER a Cisco SIP phone sends, header by header (docs/REAL_WIRE.md §1.2-§1.5).

Pure functions of the phone's identity, line and state, kept apart from the
sockets so each header can be checked against the literal examples of §1.8.
Old 79xx firmware (below 9.0) omits `+u.sip!devicename` and has the shorter
Supported list of example B; 78xx/88xx add Session-ID and report
`ActiveLoad=/InactiveLoad=` in the cisco-alarm.
"""

from __future__ import annotations

import email.utils
import re
import secrets
from dataclasses import dataclass

from harness.phone_models import Family, PhoneModel
from harness.services import sip_message as sip

EXPIRES = 3600  # timerRegisterExpires
ALARMS = {"power": (25, "initialized"), "reset": (22, "reset-reset"),
          "restart": (23, "reset-restart"), "closed": (14, "cm-closed-tcp")}
_BASE = ("replaces,join,sdp-anat,norefersub,resource-priority,extended-refer,X-cisco-callinfo,"
         "X-cisco-serviceuri,X-cisco-escapecodes,X-cisco-service-control,X-cisco-srtp-fallback,"
         "X-cisco-monrec,X-cisco-config")
SUPPORTED_79XX_9 = _BASE + ",X-cisco-sis-6.0.0,X-cisco-xsi-8.5.1"
SUPPORTED_79XX_8 = (_BASE.replace("sdp-anat,", "").replace("resource-priority,", "")
                    + ",X-cisco-sis-3.0.0,X-cisco-xsi-7.0.1")
SUPPORTED_88XX = _BASE + ",X-cisco-sis-7.0.0,X-cisco-xsi-8.5.1"
BOUNDARY = "uniqueBoundary"
_XML = '<?xml version="1.0" encoding="UTF-8"?>\n'
BULK = ("<x-cisco-remotecc-request><bulkregisterreq><contact all=\"true\"><register></register>"
        "</contact></bulkregisterreq></x-cisco-remotecc-request>")
OPTIONS = ('<x-cisco-remotecc-request><optionsind><combine max="6"><remotecc><status></status>'
           "</remotecc><service-control></service-control></combine>"
           '<dialog usage="hook status"><unot></unot><sub></sub></dialog>'
           '<dialog usage="shared line"><unot></unot><sub></sub></dialog>'
           '<presence usage="blf speed dial"><unot></unot><sub></sub></presence>'
           "<joinreq></joinreq></optionsind></x-cisco-remotecc-request>")


def short_version(load: str) -> str:
    """`SIP42.9-4-2SR3-1S` → `9.4.2`, `sip88xx.12-1-1-12` → `12.1.1` (User-Agent form)."""
    version = load.partition(".")[2] or load
    numbers = [m.group(0) for part in version.split("-")[:3]
               if (m := re.match(r"\d+", part))]
    return ".".join(numbers) or "0.0"


@dataclass(frozen=True)
class UaFacts:
    """What the REGISTER says about the phone itself."""

    mac: str  # 12 hex, any case
    model: PhoneModel
    load: str  # the running load id

    @property
    def device(self) -> str:
        return "SEP" + self.mac.upper()

    @property
    def modern(self) -> bool:
        return self.model.family is Family.C88XX

    @property
    def major(self) -> int:
        head = short_version(self.load).split(".")[0]
        return int(head) if head.isdigit() else 0

    @property
    def sends_devicename(self) -> bool:
        """Absent on older firmware (7970 8.4, 7960 8.0: §1.3)."""
        return self.modern or self.major >= 9

    @property
    def user_agent(self) -> str:
        suffix = "" if self.modern else "G"
        return f"Cisco-CP{self.model.model}{suffix}/{short_version(self.load)}"

    @property
    def supported(self) -> str:
        if self.modern:
            return SUPPORTED_88XX
        return SUPPORTED_79XX_9 if self.major >= 9 else SUPPORTED_79XX_8

    def reason(self, boot: str) -> str:
        number, last = ALARMS.get(boot, ALARMS["power"])
        loads = (f"ActiveLoad={self.load}.loads InactiveLoad={self.load}.loads" if self.modern
                 else f"Load={self.load}")
        return f'SIP;cause=200;text="cisco-alarm:{number} Name={self.device} {loads} Last={last}"'

    def contact(self, user: str, host: str, port: int, transport: str) -> str:
        mac = self.mac.lower()
        value = (f'<sip:{user}@{host}:{port};transport={transport}>;'
                 f'{sip.INSTANCE}="<urn:uuid:00000000-0000-0000-0000-{mac}>"')
        if self.sends_devicename:
            value += f';{sip.DEVICENAME}="{self.device}"'
        return value + f';{sip.MODEL}="{self.model.device_type}"'

    def from_tag(self) -> str:
        return f"{self.mac.lower()}{secrets.token_hex(6)}-{secrets.token_hex(4)}"

    def call_id(self, counter: int, host: str) -> str:
        mac = self.mac.lower()
        return (f"{mac[:8]}-{mac[8:]}{counter & 0xFFFF:04x}-{secrets.token_hex(4)}-"
                f"{secrets.token_hex(4)}@{host}")

    def session_id(self) -> str:
        return f"{secrets.token_hex(10)}{self.mac.lower()};remote={'0' * 32}"


@dataclass
class LineDialog:
    """One line's registration dialog: fixed Call-ID and From tag, growing CSeq."""

    dn: str
    contact_user: str
    call_id: str
    from_tag: str
    cseq: int


def register(ua: UaFacts, line: LineDialog, *, server: tuple[str, int], local: tuple[str, int],
             transport: str, first: bool, bulk: bool, boot: str,
             expires: int = EXPIRES) -> sip.SipMessage:
    """One REGISTER in the order of §1.2; `first` = first after boot (Reason, body)."""
    cm, port = server
    uri = f"sip:{cm}" if port == 5060 else f"sip:{cm}:{port}"
    headers = [
        ("Via", f"SIP/2.0/{transport.upper()} {local[0]}:{local[1]};"
                f"branch=z9hG4bK{secrets.token_hex(4)}"),
        ("From", f"<sip:{line.dn}@{cm}>;tag={line.from_tag}"),
        ("To", f"<sip:{line.dn}@{cm}>"),
        ("Call-ID", line.call_id),
        ("Max-Forwards", "70"),
    ]
    if ua.modern:
        headers.append(("Session-ID", ua.session_id()))
    headers += [
        ("Date", email.utils.formatdate(usegmt=True)),
        ("CSeq", f"{line.cseq} REGISTER"),
        ("User-Agent", ua.user_agent),
        ("Contact", ua.contact(line.contact_user, local[0], local[1], transport.lower())),
        ("Supported", ua.supported),
    ]
    body = b""
    if first:
        headers += [("Reason", ua.reason(boot)), ("Expires", str(expires))]
        body = multipart(bulk)
        headers += [("Content-Type", f"multipart/mixed; boundary={BOUNDARY}"),
                    ("Mime-Version", "1.0")]
    elif ua.modern:
        headers.append(("Expires", str(expires)))
    else:  # 79xx refreshes: Expires after Content-Length (example A)
        headers += [("Content-Length", ""), ("Expires", str(expires))]
    return sip.SipMessage(f"REGISTER {uri} SIP/2.0", headers, body)


def multipart(bulk: bool) -> bytes:
    """The first REGISTER's body: bulkregisterreq (line 1) and optionsind (§1.2)."""
    parts = ([BULK] if bulk else []) + [OPTIONS]
    text = "".join(
        f"--{BOUNDARY}\r\nContent-Type: application/x-cisco-remotecc-request+xml\r\n"
        f"Content-Disposition: session;handling=optional\r\n\r\n{_XML}{part}\r\n"
        for part in parts) + f"--{BOUNDARY}--\r\n"
    return text.encode()
