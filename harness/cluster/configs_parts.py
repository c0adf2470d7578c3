"""Building blocks of CUCM's config XML shared by `SEP<MAC>.cnf.xml` and `XMLDefault`.

docs/REAL_WIRE.md §4.1 and §4.4 give the element tree CUCM writes; the device pool
(call managers with all their ports), the TVS list, locales and the per-family
`vendorConfig` appear in both the device config and the autoregistration default,
so they are written in one place. Element order follows CUCM's files.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness.phone_models import Family, PhoneModel

MGCP_LISTEN, MGCP_KEEPALIVE, CAPF_PHONE_PORT = 2427, 2428, 3804
LOCALE_VERSION = "8.6.0.0(1)"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class CallManager:
    """One call-manager node of the device pool with its phone-facing ports."""

    address: str
    sip_port: int = 5060
    sccp_port: int = 2000  # ethernetPhonePort; SCCP over TLS is this port + 443
    secured_sip_port: int = 5061
    description: str = ""  # the node's name (CUCM: the server's description)


def text(parent: ET.Element, tag: str, value: object = "") -> ET.Element:
    """`<tag>value</tag>` appended to `parent`; None and "" both give an empty element."""
    element = ET.SubElement(parent, tag)
    element.text = "" if value is None else str(value)
    return element


def stable_uuid(*parts: object) -> uuid.UUID:
    """A UUID that stays the same for the same inputs (CUCM's pkids are database rows)."""
    return uuid.uuid5(uuid.NAMESPACE_OID, "phonelab:" + ":".join(str(p) for p in parts))


def version_stamp(epoch: int, device: str) -> str:
    """CUCM's `<versionStamp>`: `<epoch>-<uuid>` (docs/REAL_WIRE.md §4.1)."""
    return f"{epoch}-{stable_uuid('versionStamp', device, epoch)}"


def call_manager_group(parent: ET.Element, managers: list[CallManager]) -> None:
    """`callManagerGroup` with one `member` per node, ports incl. MGCP, by priority."""
    group = ET.SubElement(parent, "callManagerGroup")
    text(group, "name", "Default")
    text(group, "tftpDefault", "true")
    members = ET.SubElement(group, "members")
    for priority, cm in enumerate(managers):
        member = ET.SubElement(members, "member", priority=str(priority))
        manager = ET.SubElement(member, "callManager")
        text(manager, "name", cm.address)
        text(manager, "description", cm.description or cm.address)
        ports = ET.SubElement(manager, "ports")
        text(ports, "ethernetPhonePort", cm.sccp_port)
        text(ports, "sipPort", cm.sip_port)
        text(ports, "securedSipPort", cm.secured_sip_port)
        mgcp = ET.SubElement(ports, "mgcpPorts")
        text(mgcp, "listen", MGCP_LISTEN)
        text(mgcp, "keepAlive", MGCP_KEEPALIVE)
        text(manager, "processNodeName", cm.address)


def device_pool(parent: ET.Element, managers: list[CallManager], pool_uuid: str) -> None:
    """`devicePool`: date/time group (NTP = the publisher) and the call-manager group."""
    pool = ET.SubElement(parent, "devicePool", uuid=pool_uuid)
    text(pool, "revertPriority", 0)
    text(pool, "name", "Default")
    when = ET.SubElement(pool, "dateTimeSetting")
    text(when, "name", "CMLocal")
    text(when, "dateTemplate", "M/D/YA")
    text(when, "timeZone", "Central Standard/Daylight Time")
    text(when, "olsonTimeZone", "America/Chicago")
    if managers:
        ntp = ET.SubElement(ET.SubElement(when, "ntps"), "ntp")
        text(ntp, "name", managers[0].address)
        text(ntp, "ntpMode", "Unicast")
    call_manager_group(pool, managers)
    text(pool, "connectionMonitorDuration", 120)


def tvs(parent: ET.Element, servers: list[tuple[str, int]]) -> None:
    """`TVS/members/member priority=/{port, address}` (docs/PROTOCOLS.md §5); absent if none."""
    if not servers:
        return
    members = ET.SubElement(ET.SubElement(parent, "TVS"), "members")
    for priority, (address, port) in enumerate(servers):
        member = ET.SubElement(members, "member", priority=str(priority))
        text(member, "port", port)
        text(member, "address", address)


def vendor_config(parent: ET.Element, model: PhoneModel, ssh: bool, web: bool = True) -> None:
    """`vendorConfig` (all families) and, on 78xx/88xx, `commonConfig`/`enterpriseConfig`.

    webAccess 0 means enabled on every family (docs/REAL_WIRE.md §6.4): the CGI
    interface and the authentication URL need it. sshAccess 0 = enabled likewise,
    written enabled only when the device has SSH credentials.
    """
    ssh_access, web_access = (0 if ssh else 1), (0 if web else 1)
    vendor = ET.SubElement(parent, "vendorConfig")
    text(vendor, "disableSpeaker", "false")
    text(vendor, "disableSpeakerAndHeadset", "false")
    text(vendor, "pcPort", 0)
    text(vendor, "settingsAccess", 1)
    text(vendor, "garp", 0)
    text(vendor, "voiceVlanAccess", 0)
    text(vendor, "videoCapability", 0)
    text(vendor, "autoSelectLineEnable", 0)
    text(vendor, "webAccess", web_access)
    text(vendor, "spanToPCPort", 1)
    text(vendor, "loggingDisplay", 1)
    text(vendor, "loadServer")
    text(vendor, "sshAccess", ssh_access)
    if model.family is not Family.C88XX:
        return
    for tag in ("commonConfig", "enterpriseConfig"):
        block = ET.SubElement(parent, tag)
        text(block, "sshAccess", ssh_access)
        text(block, "webAccess", web_access)
        text(block, "webProtocol", 0)  # HTTP and HTTPS


def locales(parent: ET.Element) -> None:
    """`userLocale`, `networkLocale`, `networkLocaleInfo` (US English, as CUCM's default)."""
    user = ET.SubElement(parent, "userLocale")
    text(user, "name", "English_United_States")
    text(user, "uid", 1)
    text(user, "langCode", "en_US")
    text(user, "version", LOCALE_VERSION)
    text(user, "winCharSet", "iso-8859-1")
    text(parent, "networkLocale", "United_States")
    info = ET.SubElement(parent, "networkLocaleInfo")
    text(info, "name", "United_States")
    text(info, "uid", 64)
    text(info, "version", LOCALE_VERSION)


def capf_list(parent: ET.Element, servers: list[tuple[str, int]]) -> None:
    """`capfList/capf{phonePort, processNodeName}` in the order phones try them."""
    element = ET.SubElement(parent, "capfList")
    for address, port in servers:
        capf = ET.SubElement(element, "capf")
        text(capf, "phonePort", port)
        text(capf, "processNodeName", address)


def serialise(root: ET.Element) -> bytes:
    """The document with CUCM's XML declaration, indented for people reading it."""
    ET.indent(root)
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, short_empty_elements=False) + b"\n")
