"""The few facts a phone takes from a configuration file for its trust decisions.

docs/PROTOCOLS.md §4.2 and §7.4: after a config is accepted the phone acts on
`capfAuthMode`, `capfList`, `<TVS>`, `deviceSecurityMode` and, for the short
config, `encrConfig`/`certHash`. The TVS member list in particular is phone state
(§7.1): it exists only once a config was accepted, and XMLDefault may lack it.
Configs come off the network, so a document with a DTD is refused outright
rather than handed to an entity-expanding parser [HARNESS].
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness.formats.enc import stub_of
from harness.formats.errors import FormatError

TVS_PORT = 2445
SIP_PORT = 5060
SECURED_SIP_PORT = 5061
SCCP_PORT = 2000
CAPF_PORT = 3804


@dataclass(frozen=True)
class TvsMember:
    """`<TVS><members><member priority>`: lower priority is tried first."""

    address: str
    port: int = TVS_PORT
    priority: int = 0


@dataclass(frozen=True)
class CapfServer:
    """`<capfList><capf>`: processNodeName and phonePort, tried in file order."""

    address: str
    port: int = CAPF_PORT


@dataclass(frozen=True)
class CallManager:
    """`devicePool/callManagerGroup/members/member/callManager`, in priority order."""

    address: str
    sip_port: int = SIP_PORT
    sccp_port: int = SCCP_PORT  # ethernetPhonePort; SCCP over TLS is this port + 443
    secured_sip_port: int = SECURED_SIP_PORT


@dataclass(frozen=True)
class Line:
    """`sipProfile/sipLines/line` with featureID 9: a DN the phone registers."""

    button: int
    dn: str
    contact: str  # REGISTER Contact user part (CUCM: a per-line UUID)


@dataclass(frozen=True)
class ConfigFacts:
    """Trust-relevant content of one config document (full or short)."""

    root: str = ""
    tvs_members: tuple[TvsMember, ...] = ()
    capf_auth_mode: int | None = None
    capf_servers: tuple[CapfServer, ...] = ()
    security_mode: int | None = None
    encrypted: bool = False  # short config announcing SEP<MAC>.cnf.xml.enc.sgn
    cert_hash: str | None = None
    call_managers: tuple[CallManager, ...] = ()  # by priority
    services_url: str | None = None  # phone services over HTTPS (judged per §7.6)
    protocol: str | None = None  # deviceProtocol: SIP or SCCP
    lines: tuple[Line, ...] = ()
    load_information: str | None = None  # empty element: keep the running load
    transport: int | None = None  # transportLayerProtocol: 1 TCP, 2 UDP, 3 TLS, 4 TCP+UDP
    authentication_url: str | None = None  # CGI credential check (docs/REAL_WIRE.md §6.2)
    web_access: bool = True  # webAccess 0 (or absent) = web server on, 1 = off (§6.4)
    model_loads: tuple[tuple[int, str], ...] = ()  # XMLDefault loadInformation<device type>

    def load_for(self, device_type: int) -> str | None:
        """The load this config names for a model: `loadInformation`, else XMLDefault's
        `loadInformation<device type>` (docs/REAL_WIRE.md §4.3)."""
        return self.load_information or dict(self.model_loads).get(device_type)


def read_config(xml: bytes) -> ConfigFacts:
    """Parse `xml` (FormatError when not well-formed or carrying a DTD)."""
    upper = xml.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise FormatError("config XML with a DTD is refused")
    try:
        root = ET.fromstring(xml)
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise FormatError(f"not well-formed XML: {exc}") from None
    stub = stub_of(root)
    members = [_member(m) for tvs in root.iter("TVS") for m in tvs.iter("member")]
    capf = [_capf(c) for capf_list in root.iter("capfList") for c in capf_list.iter("capf")]
    return ConfigFacts(
        root=root.tag,
        tvs_members=tuple(sorted((m for m in members if m), key=lambda m: m.priority)),
        capf_auth_mode=stub.capf_auth_mode,
        capf_servers=tuple(c for c in capf if c),
        security_mode=_number(root.findtext("deviceSecurityMode")),
        encrypted=stub.encrypted,
        cert_hash=stub.cert_hash,
        call_managers=tuple(m for m in (_manager(e) for e in root.iter("callManager")) if m),
        services_url=(root.findtext("servicesURL") or "").strip() or None,
        protocol=(root.findtext("deviceProtocol") or "").strip().upper() or None,
        lines=tuple(line for line in (_line(e) for e in root.iterfind("sipProfile/sipLines/line"))
                    if line),
        load_information=(root.findtext("loadInformation") or "").strip() or None,
        transport=_number(root.findtext("transportLayerProtocol")),
        authentication_url=(root.findtext("authenticationURL") or "").strip() or None,
        web_access=all(_number(e.text) != 1 for e in root.iter("webAccess")),
        model_loads=tuple(_model_loads(root)),
    )


def _model_loads(root: ET.Element) -> list[tuple[int, str]]:
    found = []
    for child in root:
        kind = _number(child.tag.removeprefix("loadInformation"))
        load = (child.text or "").strip()
        if child.tag.startswith("loadInformation") and kind is not None and load:
            found.append((kind, load))
    return found


def _manager(element: ET.Element) -> CallManager | None:
    address = (element.findtext("processNodeName") or "").strip()
    if not address:
        return None
    return CallManager(
        address, sip_port=_number(element.findtext("ports/sipPort")) or SIP_PORT,
        sccp_port=_number(element.findtext("ports/ethernetPhonePort")) or SCCP_PORT,
        secured_sip_port=_number(element.findtext("ports/securedSipPort")) or SECURED_SIP_PORT)


def _line(element: ET.Element) -> Line | None:
    if _number(element.findtext("featureID")) != 9:
        return None
    dn = (element.findtext("name") or "").strip()
    if not dn:
        return None
    contact = (element.findtext("contact") or "").strip() or dn
    return Line(_number(element.get("button")) or 1, dn, contact)


def _member(element: ET.Element) -> TvsMember | None:
    address = (element.findtext("address") or "").strip()
    if not address:
        return None
    port = _number(element.findtext("port")) or TVS_PORT
    return TvsMember(address, port, _number(element.get("priority")) or 0)


def _capf(element: ET.Element) -> CapfServer | None:
    address = (element.findtext("processNodeName") or "").strip()
    port = _number(element.findtext("phonePort")) or CAPF_PORT
    return CapfServer(address, port) if address else None


def _number(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None
