"""Unmodified netmiko against the fake switch over real SSH, parsed by ntc-templates.

One switch and one logged-in netmiko session per module (a login costs real time);
each test works on its own port so the order of tests does not matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from netmiko import BaseConnection, ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, ReadTimeout

from harness.aio import BackgroundLoop
from harness.events import EventLog
from phone_drivers.emulator.switch import FakeSwitch
from tests.recording_device import RecordingPhone as Phone

INVALID = "% Invalid input detected at '^' marker."
pytestmark = pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning")


PHONES = {n: Phone(f"SEP00215555420{n}", f"00215555420{n}", address=f"10.1.20.{n}")
          for n in range(2, 7)}


@pytest.fixture(scope="module")
def events() -> EventLog:
    return EventLog()


@pytest.fixture(scope="module")
def switch(events: EventLog) -> Iterator[FakeSwitch]:
    with BackgroundLoop("test-switch") as loop:
        sw = FakeSwitch(8, enable_secret="s3cret", events=events, loop=loop)
        for n, phone in PHONES.items():
            sw.attach(f"Gi1/0/{n}", phone)
        sw.ports[5].voice_vlan = 20
        with sw:
            yield sw


def connect(switch: FakeSwitch, **overrides: Any) -> BaseConnection:
    params: dict[str, Any] = dict(
        device_type=switch.device_type, host=switch.host, port=switch.port,
        username=switch.username, password=switch.password, secret=switch.secret,
        read_timeout_override=5, auth_timeout=5,
    )
    return ConnectHandler(**(params | overrides))


def show(conn: BaseConnection, command: str) -> str:
    return str(conn.send_command(command))


def parsed(conn: BaseConnection, command: str) -> list[dict[str, Any]]:
    """netmiko's own TextFSM path (ntc-templates), exactly as a lab script would use it."""
    rows = conn.send_command(command, use_textfsm=True)
    assert isinstance(rows, list), rows  # a str here means no template matched / parse failed
    return rows


@pytest.fixture(scope="module")
def conn(switch: FakeSwitch) -> Iterator[BaseConnection]:
    c = connect(switch)
    c.enable()
    yield c
    c.disconnect()


def test_login_enable_and_prompt(conn: BaseConnection) -> None:
    assert conn.find_prompt() == "lab-sw1#"
    assert conn.check_enable_mode()


def test_power_never_powers_the_phone_off_and_show_agrees(
    conn: BaseConnection, events: EventLog
) -> None:
    phone = PHONES[2]
    assert phone.wait_calls(1) == ["on"]
    mark = events.mark()
    output = conn.send_config_set(["interface GigabitEthernet1/0/2", "power inline never"])
    assert INVALID not in output
    assert phone.wait_calls(2) == ["on", "off"]
    rows = parsed(conn, "show power inline Gi1/0/2")
    assert rows == [{"interface": "Gi1/0/2", "admin_status": "off", "operational_status": "off",
                     "power": "0.0", "device": "n/a", "class": "n/a", "max": "15.4"}]
    event = events.wait_for(lambda e: e.kind == "switch.power", 1.0, after=mark)
    assert (event.phone, event.data) == ("SEP002155554202", {"port": "Gi1/0/2", "state": "off"})

    conn.send_config_set(["interface GigabitEthernet1/0/2", "power inline auto"])
    assert phone.wait_calls(3) == ["on", "off", "on"]
    row = parsed(conn, "show power inline Gi1/0/2")[0]
    assert (row["admin_status"], row["operational_status"], row["device"]) == (
        "auto", "on", "IP Phone 7962")


def test_abbreviated_commands(conn: BaseConnection) -> None:
    phone = PHONES[3]
    conn.send_config_set(["int gi1/0/3", "pow inl nev"], config_mode_command="conf t")
    assert phone.wait_calls(2) == ["on", "off"]
    assert "Gi1/0/3   off    off" in show(conn, "sh pow in gi1/0/3")
    conn.send_config_set(["int g 1/0/3", "no pow inl"], config_mode_command="conf t")
    assert phone.wait_calls(3)[-1] == "on"


def test_invalid_command_gets_the_ios_caret(conn: BaseConnection) -> None:
    lines = show(conn, "show powr inline").splitlines()
    assert lines == [" " * len("lab-sw1#show ") + "^", INVALID]


def test_nonexistent_interface_is_invalid_input(conn: BaseConnection) -> None:
    output = conn.send_config_set(["interface GigabitEthernet1/0/99"])
    caret = next(line for line in output.splitlines() if line.strip() == "^")
    assert caret.index("^") == len("lab-sw1(config)#interface GigabitEthernet1/0/")
    bad_slot = show(conn, "show power inline gi 2/0/1").splitlines()[0]
    assert bad_slot.index("^") == len("lab-sw1#show power inline gi ")
    assert INVALID in output
    assert conn.find_prompt() == "lab-sw1#"


def test_ntc_templates_parse_every_show(conn: BaseConnection) -> None:
    power = parsed(conn, "show power inline")
    assert [r["interface"] for r in power] == [f"Gi1/0/{n}" for n in range(1, 9)]
    assert {r["operational_status"] for r in power if r["interface"] == "Gi1/0/5"} == {"on"}
    status = {r["port"]: r for r in parsed(conn, "show interfaces status")}
    assert status["Gi1/0/5"]["status"] == "connected" and status["Gi1/0/1"]["status"] == (
        "notconnect")
    cdp = {r["local_interface"]: r
           for r in parsed(conn, "show cdp neighbors detail")}
    assert cdp["GigabitEthernet1/0/5"] == {
        "neighbor_name": "SEP002155554205", "mgmt_address": "10.1.20.5",
        "platform": "Cisco IP Phone 7962", "neighbor_interface": "Port 1",
        "local_interface": "GigabitEthernet1/0/5", "neighbor_description": "SCCP42.8-4-2S",
        "capabilities": "Host Phone Two-port Mac Relay"}
    brief = parsed(conn, "show cdp neighbors")
    assert {"neighbor_name": "SEP002155554205", "local_interface": "Gig 1/0/5",
            "capabilities": "H P M", "platform": "IP Phone",
            "neighbor_interface": "Port 1"} in brief
    macs = parsed(conn, "show mac address-table interface Gi1/0/6")
    assert macs == [{"destination_address": "0021.5555.4206", "type": "DYNAMIC",
                     "vlan_id": "20", "destination_port": ["Gi1/0/6"]}]
    version = parsed(conn, "show version")
    assert version[0]["hostname"] == "lab-sw1"


def test_unplugged_port_has_no_neighbour(conn: BaseConnection) -> None:
    assert "Total cdp entries displayed : 0" in show(conn, "show cdp neighbors Gi1/0/8 detail")
    assert "% LLDP is not enabled" in show(conn, "show lldp neighbors detail")


def test_shutdown_is_link_only_by_default(conn: BaseConnection, switch: FakeSwitch) -> None:
    conn.send_config_set(["interface Gi1/0/4", "shutdown"])
    assert "disabled" in show(conn, "show interfaces status").split("Gi1/0/4")[1]
    assert switch.ports[3].oper == "on" and PHONES[4].calls == ["on"]
    running = show(conn, "show running-config interface Gi1/0/4")
    assert running.splitlines()[-3:] == [" switchport access vlan 1", " shutdown", "end"]
    conn.send_config_set(["interface Gi1/0/4", "no shutdown"])


def test_bad_password_and_bad_secret_are_refused(switch: FakeSwitch) -> None:
    with pytest.raises(NetmikoAuthenticationException):
        connect(switch, password="nope")
    wrong = connect(switch, secret="nope", read_timeout_override=1)
    assert wrong.find_prompt() == "lab-sw1>"
    with pytest.raises((ValueError, ReadTimeout)):  # IOS re-prompts "Password:"
        wrong.enable()
    wrong.disconnect()


def test_shell_without_pty_gets_crlf_and_no_echo(switch: FakeSwitch) -> None:
    import paramiko  # type: ignore[import-untyped]

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(switch.host, port=switch.port, username=switch.username,
                   password=switch.password, look_for_keys=False, allow_agent=False)
    try:
        chan = client.get_transport().open_session()
        chan.invoke_shell()
        chan.settimeout(3)
        chan.send(b"show power inline Gi1/0/1\n")
        data = b""
        while data.count(b"lab-sw1>") < 2:
            data += chan.recv(4096)
        assert data.startswith(b"lab-sw1>Interface Admin")  # no echo without a PTY
        assert data.count(b"\n") == data.count(b"\r\n") > 3
    finally:
        client.close()
