"""Phone configuration XML as CUCM's TFTP service writes it.

Only the elements the trust machinery reads are generated (PROTOCOLS.md §4.2,
§7.4, §7.10): security mode, CAPF settings, the TVS server list, the call
manager list for registration, and the services URL the HTTPS checks use.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness.cluster.state import FirmwareLoad, PhoneRecord

CAPF_AUTH_MODE = {"none": 0, "password": 1, "no password": 2, "certificate": 3}
LOAD = {"SIP": "SIP{model}.9-4-2SR3-1S", "SCCP": "SCCP{model}.9-4-2SR3-1S"}
TRANSPORT_TCP, TRANSPORT_TLS, TRANSPORT_TCP_UDP = 1, 3, 4  # transportLayerProtocol


@dataclass(frozen=True)
class CallManager:
    """One call-manager node of the device pool with its phone-facing ports."""

    address: str
    sip_port: int = 5060
    sccp_port: int = 2000  # ethernetPhonePort; SCCP over TLS is this port + 443
    secured_sip_port: int = 5061


@dataclass(frozen=True)
class Endpoints:
    """Where the cluster's services listen, as phones are told in their config."""

    call_managers: list[CallManager]  # in priority order
    tvs: list[tuple[str, int]]  # (address, port) in priority order
    capf: list[tuple[str, int]]
    services_url: str | None
    secure: bool  # mixed mode: deviceSecurityMode 2 for phones with a CTL


def _text(parent: ET.Element, tag: str, value: object) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(value)
    return element


def _members(parent: ET.Element, servers: list[tuple[str, int]], port_tag: str) -> None:
    members = ET.SubElement(parent, "members")
    for priority, (address, port) in enumerate(servers):
        member = ET.SubElement(members, "member", priority=str(priority))
        _text(member, port_tag, port)
        _text(member, "address", address)


def _common(root: ET.Element, where: Endpoints, protocol: str) -> None:
    pool = ET.SubElement(ET.SubElement(root, "devicePool"), "callManagerGroup")
    cms = ET.SubElement(pool, "members")
    for priority, cm in enumerate(where.call_managers):
        member = ET.SubElement(cms, "member", priority=str(priority))
        manager = ET.SubElement(member, "callManager")
        _text(manager, "name", cm.address)
        ports = ET.SubElement(manager, "ports")
        _text(ports, "ethernetPhonePort", cm.sccp_port)
        _text(ports, "sipPort", cm.sip_port)
        _text(ports, "securedSipPort", cm.secured_sip_port)
        _text(manager, "processNodeName", cm.address)
    if where.tvs:
        _members(ET.SubElement(root, "TVS"), where.tvs, "port")
    if where.services_url:
        _text(root, "servicesURL", where.services_url)


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root) + b"\n"


def _sip_lines(root: ET.Element, phone: PhoneRecord, where: Endpoints) -> None:
    """`sipProfile/sipLines`: one `line` (featureID 9) per DN (docs/REAL_WIRE.md §4.1)."""
    profile = ET.SubElement(root, "sipProfile")
    proxies = ET.SubElement(profile, "sipProxies")
    _text(proxies, "registerWithProxy", "true")
    port = where.call_managers[0].sip_port if where.call_managers else 5060
    sip_lines = ET.SubElement(profile, "sipLines")
    for button, line in enumerate(phone.lines, start=1):
        element = ET.SubElement(sip_lines, "line", button=str(button), lineIndex=str(button))
        _text(element, "featureID", 9)
        _text(element, "featureLabel", line.label or line.dn)
        _text(element, "proxy", "USECALLMANAGER")
        _text(element, "port", port)
        _text(element, "name", line.dn)
        _text(element, "displayName", line.label or line.dn)
        _text(element, "contact", line.contact or line.dn)


def load_information(phone: PhoneRecord, firmware: dict[str, FirmwareLoad]) -> str:
    """The load the phone must run: the firmware under test for its model, else a default."""
    load = firmware.get(phone.model)
    if load is not None:
        return load.load
    return LOAD.get(phone.protocol, LOAD["SIP"]).format(model=phone.model)


def device_config(phone: PhoneRecord, where: Endpoints, version_stamp: str,
                  firmware: dict[str, FirmwareLoad] | None = None) -> bytes:
    """`SEP<MAC>.cnf.xml`: the full configuration of one phone."""
    root = ET.Element("device")
    _text(root, "fullConfig", "true")
    _text(root, "deviceProtocol", phone.protocol)
    if phone.ssh_user and phone.ssh_password:  # CUCM "SSH Access" (docs/HARDWARE.md §2.3)
        _text(root, "sshUserId", phone.ssh_user)
        _text(root, "sshPassword", phone.ssh_password)
    security = 3 if phone.encrypted_config else (2 if where.secure else 1)
    if phone.protocol == "SIP":
        _sip_lines(root, phone, where)
    _text(root, "loadInformation", load_information(phone, firmware or {}))
    _text(root, "deviceSecurityMode", security)
    transport = TRANSPORT_TLS if security > 1 else (
        TRANSPORT_TCP_UDP if phone.protocol == "SIP" else TRANSPORT_TCP)
    _text(root, "transportLayerProtocol", transport)
    auth = "none" if phone.capf_operation == "none" else phone.capf_auth
    _text(root, "capfAuthMode", CAPF_AUTH_MODE.get(auth, 0))
    capf_list = ET.SubElement(root, "capfList")
    for address, port in where.capf:
        capf = ET.SubElement(capf_list, "capf")
        _text(capf, "phonePort", port)
        _text(capf, "processNodeName", address)
    _common(root, where, phone.protocol)
    _text(root, "configVersionStamp", version_stamp)
    return _xml(root)


def default_config(where: Endpoints, version_stamp: str) -> bytes:
    """`XMLDefault.cnf.xml`: what auto-registering phones get (root `<Default>`)."""
    root = ET.Element("Default")
    _common(root, where, "SIP")
    _text(root, "configVersionStamp", version_stamp)
    return _xml(root)
