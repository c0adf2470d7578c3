"""Phone configuration XML as CUCM's TFTP service writes it.

Only the elements the trust machinery reads are generated (PROTOCOLS.md §4.2,
§7.4, §7.10): security mode, CAPF settings, the TVS server list, the call
manager list for registration, and the services URL the HTTPS checks use.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness.cluster.state import PhoneRecord

CAPF_AUTH_MODE = {"none": 0, "password": 1, "no password": 2, "certificate": 3}
LOAD = {"SIP": "SIP{model}.9-4-2SR3-1S", "SCCP": "SCCP{model}.9-4-2SR3-1S"}


@dataclass(frozen=True)
class Endpoints:
    """Where the cluster's services listen, as phones are told in their config."""

    call_managers: list[tuple[str, int]]  # (address, SIP port) in priority order
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
    for priority, (address, port) in enumerate(where.call_managers):
        member = ET.SubElement(cms, "member", priority=str(priority))
        manager = ET.SubElement(member, "callManager")
        _text(manager, "processNodeName", address)
        ports = ET.SubElement(manager, "ports")
        if protocol != "SIP":
            _text(ports, "ethernetPhonePort", 2000)
        _text(ports, "sipPort", port)  # the twin registers SCCP phones through SIP too
    if where.tvs:
        _members(ET.SubElement(root, "TVS"), where.tvs, "port")
    if where.services_url:
        _text(root, "servicesURL", where.services_url)


def _xml(root: ET.Element) -> bytes:
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root) + b"\n"


def device_config(phone: PhoneRecord, where: Endpoints, version_stamp: str) -> bytes:
    """`SEP<MAC>.cnf.xml`: the full configuration of one phone."""
    root = ET.Element("device")
    _text(root, "fullConfig", "true")
    _text(root, "deviceProtocol", phone.protocol)
    security = 3 if phone.encrypted_config else (2 if where.secure else 1)
    _text(root, "deviceSecurityMode", security)
    _text(root, "loadInformation", LOAD.get(phone.protocol, LOAD["SIP"]).format(model=phone.model))
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
