"""The config XML pinned to CUCM's element tree (docs/REAL_WIRE.md §4), read with ElementTree
XPath here, not with the twin's `config_facts`, so the two readers check each other."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from harness.cluster.configs import CallManager, Endpoints, default_config, device_config
from harness.cluster.configs_parts import XSI, version_stamp
from harness.cluster.state import FirmwareLoad, LineRecord, PhoneRecord
from phone_drivers.emulator.config_facts import read_config

SIP_ORDER = [  # top-level elements in CUCM's order (§4.1); SCCP lacks sipProfile
    "fullConfig", "portalDefaultServer", "deviceProtocol", "sshUserId", "sshPassword",
    "ipAddressMode", "ipPreferenceModeControl", "devicePool", "TVS", "sipProfile",
    "MissedCallLoggingOption", "commonProfile", "loadInformation", "vendorConfig",
    "versionStamp", "userLocale", "networkLocale", "networkLocaleInfo", "deviceSecurityMode",
    "idleTimeout", "authenticationURL", "directoryURL", "idleURL", "informationURL",
    "messagesURL", "proxyServerURL", "servicesURL", "dscpForSCCPPhoneConfig",
    "dscpForSCCPPhoneServices", "dscpForCm2Dvce", "transportLayerProtocol", "capfAuthMode",
    "capfList", "certHash", "encrConfig"]
WHERE = Endpoints(
    call_managers=[CallManager("127.0.1.1", 15060, 12000, 15061, "cucm1"),
                   CallManager("127.0.1.2", 25060, 22000, 25061, "cucm2")],
    tvs=[("127.0.1.1", 12445), ("127.0.1.2", 22445)], capf=[("127.0.1.1", 13804)],
    services_url="https://127.0.1.1:18443/services", secure=False,
    authentication_url="https://127.0.1.1:18443/ccmcip/authenticate.jsp")
LOAD = "SIP42.9-4-2SR3-1S"


def phone(model: str = "7962", protocol: str = "SIP", **kw: object) -> PhoneRecord:
    lines = [LineRecord("1001", "Lab 1001", "6270f0fa-80fe-b49f-7ad3-e61eb3cf9a16"),
             LineRecord("1002", "", "1b3c5d7e-0000-4000-8000-00000000a002")]
    return PhoneRecord("SEP001122334455", model, protocol, lines=lines, **kw)  # type: ignore[arg-type]


def tree(record: PhoneRecord, firmware: dict[str, FirmwareLoad] | None = None) -> ET.Element:
    xml = device_config(record, WHERE, version_stamp(1555108264, record.name), firmware)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<device ')
    return ET.fromstring(xml)


def test_sip_top_level_elements_in_cucm_order() -> None:
    root = tree(phone())
    assert [child.tag for child in root] == SIP_ORDER
    assert root.get(f"{{{XSI}}}type") == "axl:XIPPhone"
    assert root.get("ctiid", "").isdigit() and root.get("uuid", "").startswith("{")


def test_sccp_has_no_sip_profile_and_tcp_transport() -> None:
    root = tree(phone(protocol="SCCP"))
    assert [child.tag for child in root] == [t for t in SIP_ORDER if t != "sipProfile"]
    assert root.findtext("deviceProtocol") == "SCCP"
    assert root.findtext("transportLayerProtocol") == "1"
    assert root.find(".//line") is None


def test_device_pool_names_every_call_manager_with_all_ports() -> None:
    root = tree(phone())
    members = root.findall("devicePool/callManagerGroup/members/member")
    assert [m.get("priority") for m in members] == ["0", "1"]
    first = members[0].find("callManager")
    assert first is not None
    assert first.findtext("name") == "127.0.1.1" and first.findtext("description") == "cucm1"
    assert [first.findtext(f"ports/{p}") for p in ("ethernetPhonePort", "sipPort",
                                                   "securedSipPort")] == ["12000", "15060",
                                                                          "15061"]
    assert first.findtext("ports/mgcpPorts/listen") == "2427"
    assert first.findtext("ports/mgcpPorts/keepAlive") == "2428"
    assert first.findtext("processNodeName") == "127.0.1.1"
    assert root.findtext("devicePool/dateTimeSetting/ntps/ntp/name") == "127.0.1.1"
    assert [(m.findtext("address"), m.findtext("port"))
            for m in root.findall("TVS/members/member")] == [("127.0.1.1", "12445"),
                                                               ("127.0.1.2", "22445")]


def test_sip_lines_carry_feature_9_proxy_port_name_and_contact() -> None:
    root = tree(phone())
    lines = root.findall("sipProfile/sipLines/line")
    assert [(x.get("button"), x.get("lineIndex")) for x in lines] == [("1", "1"), ("2", "2")]
    first = lines[0]
    assert [c.tag for c in first][:6] == ["featureID", "featureLabel", "proxy", "port", "name",
                                          "displayName"]
    assert (first.findtext("featureID"), first.findtext("proxy"), first.findtext("port"),
            first.findtext("name"), first.findtext("displayName")) == (
        "9", "USECALLMANAGER", "15060", "1001", "Lab 1001")
    assert first.findtext("contact") == "6270f0fa-80fe-b49f-7ad3-e61eb3cf9a16"
    assert lines[1].findtext("featureLabel") == "1002"  # no label: the DN
    assert root.findtext("sipProfile/sipProxies/registerWithProxy") == "true"
    assert root.findtext("sipProfile/sipProxies/outboundProxy") == "USECALLMANAGER"
    assert root.findtext("sipProfile/sipStack/timerRegisterExpires") == "3600"
    assert root.findtext("sipProfile/sipStack/timerT1") == "500"
    assert root.findtext("sipProfile/sipCallFeatures/callForwardURI") == \
        "x-cisco-serviceuri-cfwdall"
    assert root.findtext("sipProfile/voipControlPort") == "15060"


def test_ssh_credentials_web_access_urls_and_stamp() -> None:
    root = tree(phone(ssh_user="admin", ssh_password="s3cret"))
    assert (root.findtext("sshUserId"), root.findtext("sshPassword")) == ("admin", "s3cret")
    assert root.findtext("vendorConfig/webAccess") == "0"  # 0 = enabled
    assert root.findtext("vendorConfig/sshAccess") == "0"
    assert root.findtext("authenticationURL") == WHERE.authentication_url
    assert root.findtext("servicesURL") == WHERE.services_url
    epoch, _, uuid = (root.findtext("versionStamp") or "").partition("-")
    assert epoch == "1555108264" and len(uuid) == 36
    plain = tree(phone())
    assert (plain.findtext("sshUserId"), plain.findtext("sshPassword")) == ("", "")
    assert plain.findtext("vendorConfig/sshAccess") == "1"
    assert plain.find("commonConfig") is None  # 79xx: vendorConfig only


def test_88xx_also_gets_common_and_enterprise_config() -> None:
    root = tree(phone("8845"))
    for block in ("commonConfig", "enterpriseConfig"):
        assert root.findtext(f"{block}/webAccess") == "0"
        assert root.findtext(f"{block}/webProtocol") == "0"
    assert root.find("inactiveLoadInformation") is not None


@pytest.mark.parametrize(("firmware", "expected"), [
    ({}, ""), ({"7962": FirmwareLoad("7962", LOAD)}, LOAD),
    ({"8845": FirmwareLoad("8845", "sip8845_65.12-5-1SR2-2")}, "")])
def test_load_information_names_the_load_under_test_of_the_model(
        firmware: dict[str, FirmwareLoad], expected: str) -> None:
    assert tree(phone(), firmware).findtext("loadInformation") == expected


def test_security_elements_follow_mode_and_capf() -> None:
    root = tree(phone(encrypted_config=True, capf_operation="install", capf_auth="password"))
    assert root.findtext("deviceSecurityMode") == "3"
    assert root.findtext("transportLayerProtocol") == "3"
    assert root.findtext("capfAuthMode") == "1"
    assert root.findtext("capfList/capf/processNodeName") == "127.0.1.1"
    assert root.findtext("capfList/capf/phonePort") == "13804"
    assert (root.findtext("certHash"), root.findtext("encrConfig")) == ("", "false")


def test_twin_reader_agrees_with_xpath() -> None:
    xml = device_config(phone(), WHERE, "1-x", {"7962": FirmwareLoad("7962", LOAD)})
    facts = read_config(xml)
    assert [m.address for m in facts.call_managers] == ["127.0.1.1", "127.0.1.2"]
    assert facts.call_managers[0].sip_port == 15060
    assert [(x.button, x.dn) for x in facts.lines] == [(1, "1001"), (2, "1002")]
    assert facts.load_information == LOAD and facts.protocol == "SIP" and facts.transport == 4
    assert [(m.address, m.port) for m in facts.tvs_members] == WHERE.tvs
    assert not facts.encrypted and facts.cert_hash is None


def test_xml_default_has_group_tvs_and_one_load_per_model() -> None:
    xml = default_config(WHERE, "1-x", {"7962": FirmwareLoad("7962", LOAD)})
    root = ET.fromstring(xml)
    assert root.tag == "Default"
    assert root.findtext("callManagerGroup/members/member/callManager/ports/sipPort") == "15060"
    assert root.findtext("TVS/members/member/port") == "12445"
    loads = {e.tag: (e.get("model"), e.text or "") for e in root
             if e.tag.startswith("loadInformation")}
    assert loads["loadInformation404"] == ("Cisco 7962", LOAD)
    assert loads["loadInformation434"] == ("Cisco 7942", "")
    assert loads["loadInformation36224"] == ("Cisco 8845", "")
    assert len(loads) == 13
    assert root.findtext("autoRegistration") == "true"
    assert read_config(xml).call_managers[0].address == "127.0.1.1"


def test_twin_reads_its_model_load_from_xml_default() -> None:
    xml = default_config(WHERE, "1-x", {"7962": FirmwareLoad("7962", LOAD)})
    facts = read_config(xml)
    assert facts.load_information is None
    assert facts.load_for(404) == LOAD and facts.load_for(434) is None
    assert read_config(device_config(phone(), WHERE, "1-x")).load_for(404) is None
