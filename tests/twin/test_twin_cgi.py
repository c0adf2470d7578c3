"""Twin phones' HTTP interface (docs/REAL_WIRE.md §6) driven by the CGI keypad and by curl."""

from __future__ import annotations

import base64
import http.client
import shutil
import subprocess
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
import serial

from harness.errors import LabError
from harness.phone_models import Family
from phone_drivers.emulator.twin import TwinRack
from phone_drivers.keypad import CgiKeypad
from tests.twin.test_twin_boot import P7962, P8845, ready

SETTINGS = ('<CiscoIPPhoneExecute><ExecuteItem Priority="0" URL="Key:Settings"/>'
            "</CiscoIPPhoneExecute>")


def keypad(rack: TwinRack, name: str, family: Family, password: str | None = None) -> CgiKeypad:
    wiring = rack.wiring()
    assert wiring.cgi is not None
    secret = wiring.cgi.password.get_secret_value() if password is None else password
    return CgiKeypad(wiring.web[name], family, user=wiring.cgi.user, password=secret,
                     pause=wiring.key_pause, timeout=3)


def execute(rack: TwinRack, name: str, xml: str, *, user: str | None = None,
            password: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    """An independent client: http.client with the §6.2 form."""
    login = rack.wiring().cgi
    assert login is not None
    token = base64.b64encode(f"{user or login.user}:"
                             f"{password or login.password.get_secret_value()}".encode())
    parts = urllib.parse.urlsplit(rack.wiring().web[name])
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=5)
    try:
        conn.request("POST", "/CGI/Execute", urllib.parse.urlencode({"XML": xml}), {
            "Authorization": f"Basic {token.decode()}",
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        return conn.getresponse().read()
    finally:
        conn.close()


def test_cgi_keypad_erases_the_itl_and_the_next_boot_takes_a_new_one(rack: TwinRack) -> None:
    ready(rack, P7962)
    ready(rack, P8845)
    assert rack.phones[P7962].observe()["itl_digest"] is not None
    mark = rack.events.mark()
    keypad(rack, P7962, Family.C79X1).erase_itl()
    rack.events.wait_for(lambda e: e.kind == "phone.keypad_action" and e.phone == P7962
                         and e.data == {"action": "erase itl", "via": "cgi"}, 5, after=mark)
    assert rack.phones[P7962].observe()["itl_digest"] is None
    auth = [e for e in rack.events.since(mark) if e.kind == "https.auth"]
    assert auth and {e.data["result"] for e in auth} == {"AUTHORIZED"}
    assert auth[0].data["device"] == P7962 and auth[0].data["user"] == "phonelab"
    secret = rack.cgi.password.get_secret_value()
    assert all(secret not in repr(e.data) for e in rack.events.since(0))  # never logged
    rebooted = rack.events.mark()
    rack.phones[P7962].reset()
    ready(rack, P7962, after=rebooted)
    itl = rack.events.wait_for(lambda e: e.kind == "phone.itl" and e.phone == P7962
                               and e.data["outcome"] == "accepted", 10, after=rebooted)
    assert itl.data["basis"] == "trust on first use"
    # 88xx: Reset Settings > Security removes CTL and ITL alike (Q7, community account)
    keypad(rack, P8845, Family.C88XX).erase_itl()
    rack.events.wait_for(lambda e: e.kind == "phone.keypad_action" and e.phone == P8845, 5,
                         after=rebooted)
    assert rack.phones[P8845].observe()["itl_digest"] is None


def test_wrong_credentials_are_error_4_and_a_lab_error(rack: TwinRack) -> None:
    ready(rack, P7962)
    mark = rack.events.mark()
    with pytest.raises(LabError, match="CiscoIPPhoneError 4 \\(authentication"):
        keypad(rack, P7962, Family.C79X1, password="not-the-password").erase_itl()
    assert rack.phones[P7962].observe()["itl_digest"] is not None
    auth = rack.events.wait_for(lambda e: e.kind == "https.auth", 5, after=mark)
    assert auth.data["result"] == "UN-AUTHORIZED" and "not-the-password" not in repr(auth.data)
    assert execute(rack, P7962, SETTINGS, user="intruder") == b'<CiscoIPPhoneError Number="4"/>'


def test_malformed_execute_is_error_1_and_expect_continue_error_6(rack: TwinRack) -> None:
    ready(rack, P7962)
    for bad in ("<CiscoIPPhoneExecute>", "<Other/>", "<CiscoIPPhoneExecute/>",
                SETTINGS.replace("</", "<ExecuteItem URL='Key:1'/>" * 3 + "</"),
                '<!DOCTYPE x [<!ENTITY a "b">]><CiscoIPPhoneExecute/>'):
        assert execute(rack, P7962, bad) == b'<CiscoIPPhoneError Number="1"/>', bad
    assert execute(rack, P7962, SETTINGS, headers={"Expect": "100-continue"}) == \
        b'<CiscoIPPhoneError Number="6"/>'
    reply = ET.fromstring(execute(rack, P7962, SETTINGS))
    item = reply.find("ResponseItem")
    assert reply.tag == "CiscoIPPhoneResponse" and item is not None
    assert (item.get("Status"), item.get("Data"), item.get("URL")) == ("0", "Success",
                                                                       "Key:Settings")


def test_web_access_disabled_in_the_config_refuses(rack: TwinRack) -> None:
    ready(rack, P7962)
    rack.cluster.state.phones[P7962].web_access = False
    rack.cluster.restart_service("tftp")  # republishes every config
    mark = rack.events.mark()
    rack.phones[P7962].reset()
    ready(rack, P7962, after=mark)
    with pytest.raises(LabError, match=r"unreachable.*webAccess"):
        keypad(rack, P7962, Family.C79X1).erase_itl()
    assert rack.phones[P7962].observe()["itl_digest"] is not None


def test_device_information_read_independently(rack: TwinRack) -> None:
    ready(rack, P7962)
    url = rack.wiring().web[P7962] + "/DeviceInformationX"
    with urllib.request.urlopen(url, timeout=5) as reply:
        raw = reply.read()
    assert raw.startswith(b'<?xml version="1.0" encoding="iso-8859-1"?>')
    info = ET.fromstring(raw)
    assert info.tag == "DeviceInformation"
    assert info.findtext("MACAddress") == P7962[3:] and info.findtext("HostName") == P7962
    assert info.findtext("modelNumber") == "CP-7962"
    assert info.findtext("appLoadID") == rack.phones[P7962].software_version
    assert info.findtext("versionID") == "9.4(2SR3.1)"
    assert info.findtext("phoneDN")  # the first line's DN from the accepted config
    assert info.findtext("serialNumber")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_posts_the_literal_form(rack: TwinRack) -> None:
    ready(rack, P7962)
    login = rack.wiring().cgi
    assert login is not None
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "5", "-u",
         f"{login.user}:{login.password.get_secret_value()}",
         "--data-urlencode", f"XML={SETTINGS}", rack.wiring().web[P7962] + "/CGI/Execute"],
        capture_output=True, check=True, timeout=10)
    assert done.stdout == (b'<CiscoIPPhoneResponse><ResponseItem Status="0" Data="Success" '
                           b'URL="Key:Settings"/></CiscoIPPhoneResponse>')


def test_unpowered_phone_answers_nothing(rack: TwinRack) -> None:
    ready(rack, P7962)
    rack.phones[P7962].power_off()
    rack.events.wait_for(lambda e: e.kind == "phone.power" and e.phone == P7962
                         and e.data["state"] == "off", 5)
    with pytest.raises(LabError, match="unreachable"):
        keypad(rack, P7962, Family.C79X1).press("{Settings}")


def test_console_key_command_walks_the_same_menu(rack: TwinRack) -> None:
    ready(rack, P7962)
    mark = rack.events.mark()
    console_path = rack.phones[P7962].console_path
    assert console_path is not None
    with serial.serial_for_url(console_path, timeout=1) as console:
        console.write(b"key {Settings}45\r\n")  # wander off: 9 is no item of Trust List
        console.write(b"key 9{Soft5}**#{Soft5}\r\n")
        console.write(b"key {Settings}452{Soft5}**#{Soft5}\r\n")
        done = rack.events.wait_for(lambda e: e.kind == "phone.keypad_action"
                                    and e.phone == P7962, 5, after=mark)
    assert done.data == {"action": "erase itl", "via": "console"}
    assert [e.data["action"] for e in rack.events.since(mark)
            if e.kind == "phone.keypad_action"] == ["erase itl"]
    assert rack.phones[P7962].observe()["itl_digest"] is None
