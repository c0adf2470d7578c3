"""Phone configuration XML as CUCM's TFTP service writes it (docs/REAL_WIRE.md §4).

`SEP<MAC>.cnf.xml` carries the element tree of CUCM 8.x-11.x in CUCM's order
(§4.1, examples §4.4 SIP and §4.5 SCCP): the trust machinery reads security
mode, CAPF, TVS and call managers from it (docs/PROTOCOLS.md §4.2, §7.4); phones
also read their lines (SIP), the load to run (§5), web/SSH access and URLs.
`XMLDefault.cnf.xml` (§4.3) is what auto-registering phones get. Blocks shared
by both are in `configs_parts`, the SIP profile in `configs_sip`.

The root carries `xsi:type="axl:XIPPhone"` like CUCM's files; CUCM leaves the
`xsi` prefix undeclared, which phones accept but namespace-aware XML readers
refuse, so phonelab declares it (`xmlns:xsi`) to stay readable by any parser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness.cluster.configs_parts import (
    XSI,
    CallManager,
    call_manager_group,
    capf_list,
    device_pool,
    locales,
    serialise,
    stable_uuid,
    text,
    tvs,
    vendor_config,
    version_stamp,
)
from harness.cluster.configs_sip import sip_profile
from harness.cluster.state import FirmwareLoad, PhoneRecord
from harness.phone_models import MODELS, Family, lookup

__all__ = ["CallManager", "Endpoints", "default_config", "device_config", "load_information",
           "version_stamp"]

CAPF_AUTH_MODE = {"none": 0, "password": 1, "no password": 2, "certificate": 3}
TRANSPORT_TCP, TRANSPORT_TLS, TRANSPORT_TCP_UDP = 1, 3, 4  # transportLayerProtocol
NON_SECURE, AUTHENTICATED, ENCRYPTED = 1, 2, 3  # deviceSecurityMode


@dataclass(frozen=True)
class Endpoints:
    """Where the cluster's services listen, as phones are told in their config."""

    call_managers: list[CallManager]  # in priority order
    tvs: list[tuple[str, int]]  # (address, port) in priority order
    capf: list[tuple[str, int]]
    services_url: str | None
    secure: bool  # mixed mode: deviceSecurityMode 2 for phones with a CTL
    authentication_url: str | None = None  # where the phone checks CGI/Execute credentials


def load_information(phone: PhoneRecord, firmware: dict[str, FirmwareLoad]) -> str:
    """The load the phone must run: the firmware under test for its model, else empty.

    Empty means "keep the running load" (docs/REAL_WIRE.md §5.3): a model without a
    load under test is never sent looking for firmware the lab does not serve.
    """
    load = firmware.get(phone.model)
    return load.load if load is not None else ""


def _security_mode(phone: PhoneRecord, where: Endpoints) -> int:
    if phone.encrypted_config:
        return ENCRYPTED
    return AUTHENTICATED if where.secure else NON_SECURE


def device_config(phone: PhoneRecord, where: Endpoints, version_stamp: str,
                  firmware: dict[str, FirmwareLoad] | None = None) -> bytes:
    """`SEP<MAC>.cnf.xml`: the full configuration of one phone, in CUCM's element order."""
    model = lookup(phone.model)
    root = ET.Element("device", {
        "xmlns:xsi": XSI, "xsi:type": "axl:XIPPhone",
        "ctiid": str(stable_uuid("ctiid", phone.name).int % 100000 + 1),
        "uuid": f"{{{stable_uuid('device', phone.name)}}}"})
    managers = where.call_managers
    text(root, "fullConfig", "true")
    text(root, "portalDefaultServer", managers[0].address if managers else "")
    text(root, "deviceProtocol", phone.protocol)
    text(root, "sshUserId", phone.ssh_user or "")
    text(root, "sshPassword", phone.ssh_password or "")
    text(root, "ipAddressMode", 0)  # IPv4 only
    text(root, "ipPreferenceModeControl", 0)
    device_pool(root, managers, f"{{{stable_uuid('devicePool', 'Default')}}}")
    tvs(root, where.tvs)
    if phone.protocol == "SIP":
        sip_profile(root, phone, managers[0].sip_port if managers else 5060)
    text(root, "MissedCallLoggingOption", 10)
    common = ET.SubElement(root, "commonProfile")
    for tag, value in (("phonePassword", ""), ("backgroundImageAccess", "true"),
                       ("callLogBlfEnabled", 2)):
        text(common, tag, value)
    text(root, "loadInformation", load_information(phone, firmware or {}))
    if model.family is Family.C88XX:
        text(root, "inactiveLoadInformation")
    vendor_config(root, model, ssh=phone.ssh_user is not None, web=phone.web_access)
    text(root, "versionStamp", version_stamp)
    locales(root)
    security = _security_mode(phone, where)
    text(root, "deviceSecurityMode", security)
    _urls(root, where)
    for tag, value in (("dscpForSCCPPhoneConfig", 96), ("dscpForSCCPPhoneServices", 0),
                       ("dscpForCm2Dvce", 96)):
        text(root, tag, value)
    transport = TRANSPORT_TLS if security > NON_SECURE else (
        TRANSPORT_TCP_UDP if phone.protocol == "SIP" else TRANSPORT_TCP)
    text(root, "transportLayerProtocol", transport)
    auth = "none" if phone.capf_operation == "none" else phone.capf_auth
    text(root, "capfAuthMode", CAPF_AUTH_MODE.get(auth, 0))
    capf_list(root, where.capf)
    text(root, "certHash")
    text(root, "encrConfig", "false")
    return serialise(root)


def _urls(root: ET.Element, where: Endpoints) -> None:
    """`idleTimeout` and the service URLs; only the two the lab serves are filled in."""
    text(root, "idleTimeout", 0)
    text(root, "authenticationURL", where.authentication_url or "")
    for tag in ("directoryURL", "idleURL", "informationURL", "messagesURL", "proxyServerURL"):
        text(root, tag)
    text(root, "servicesURL", where.services_url or "")


def default_config(where: Endpoints, version_stamp: str,
                   firmware: dict[str, FirmwareLoad] | None = None) -> bytes:
    """`XMLDefault.cnf.xml` (docs/REAL_WIRE.md §4.3): root `<Default>`, the call-manager
    group, TVS, and one `loadInformation<device type>` per known model."""
    root = ET.Element("Default")
    call_manager_group(root, where.call_managers)
    tvs(root, where.tvs)
    loads = firmware or {}
    for key, model in MODELS.items():
        tag = f"loadInformation{model.device_type}"
        element = text(root, tag, loads[key].load if key in loads else "")
        element.set("model", f"Cisco {model.model}")
    text(root, "authenticationURL", where.authentication_url or "")
    text(root, "directoryURL")
    text(root, "servicesURL", where.services_url or "")
    text(root, "ipAddressMode", 0)
    text(root, "autoRegistrationName")
    text(root, "autoRegistration", "true")
    text(root, "versionStamp", version_stamp)
    return serialise(root)
