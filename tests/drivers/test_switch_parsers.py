"""Parsers on recorded-shape IOS output (docs/HARDWARE.md §3.2-3.3), written for this project."""

from __future__ import annotations

import pytest

from harness.errors import LabError
from phone_drivers.switch_parsers import (
    CdpNeighbor,
    InterfaceStatusRow,
    MacEntry,
    PowerInlineRow,
    interface_key,
    ios_error,
    parse_cdp_neighbors_detail,
    parse_interfaces_status,
    parse_mac_address_table,
    parse_power_inline,
)

POWER_INLINE = """\
Module   Available     Used     Remaining
          (Watts)     (Watts)    (Watts)
------   ---------   --------   ---------
1           370.0       21.8       348.2
Interface Admin  Oper       Power   Device              Class Max
                            (Watts)
--------- ------ ---------- ------- ------------------- ----- ----
Gi1/0/1   auto   on         6.3     IP Phone 7962       n/a   15.4
Gi1/0/2   off    off        0.0     n/a                 n/a   15.4
Gi1/0/3   auto   off        0.0     n/a                 n/a   15.4
Gi1/0/4   auto   faulty     0.0     n/a                 n/a   15.4
Gi1/0/5   auto   power-deny 0.0     Ieee PD             4     15.4
Gi1/0/6   static on         15.4    IP Phone 8845       2     15.4
"""

POWER_ONE_PORT = """\
Interface Admin  Oper       Power   Device              Class Max
                            (Watts)
--------- ------ ---------- ------- ------------------- ----- ----
Fa1/0/3   off    off        0.0     n/a                 n/a   15.4
"""

NO_SUCH_PORT = """\
                                ^
% Invalid input detected at '^' marker.
"""

INTERFACES_STATUS = """\

Port      Name               Status       Vlan       Duplex  Speed Type
Gi1/0/1                      connected    10         a-full a-1000 10/100/1000BaseTX
Gi1/0/2   lab phone 2        notconnect   1            auto   auto 10/100/1000BaseTX
Gi1/0/3                      disabled     1            auto   auto 10/100/1000BaseTX
"""

CDP_DETAIL = """\
-------------------------
Device ID: SEP0021555542E6
Entry address(es):<sp>
  IP address: 10.1.20.5
Platform: Cisco IP Phone 7962,  Capabilities: Host Phone Two-port Mac Relay<sp>
Interface: GigabitEthernet1/0/29,  Port ID (outgoing port): Port 1
Holdtime : 137 sec
Second Port Status: Down

Version :
SCCP42.8-4-2S

advertisement version: 2
Duplex: full
Power drawn: 6.300 Watts
Power request id: 4021, Power management id: 3
Power request levels are:6300 0 0 0 0<sp>
Management address(es):<sp>
  IP address: 10.1.20.5

-------------------------
Device ID: SEPB000B4BA0AEE
Entry address(es):<sp>
Platform: Cisco IP Phone 8845,  Capabilities: Host Phone Two-port Mac Relay<sp>
Interface: GigabitEthernet1/0/30,  Port ID (outgoing port): Port 1
Holdtime : 150 sec

Version :
sip8845_65.14-1-1SR1-4

Total cdp entries displayed : 2
""".replace("<sp>", " ")  # IOS leaves trailing blanks

MAC_TABLE = """\
          Mac Address Table
-------------------------------------------

Vlan    Mac Address       Type        Ports
----    -----------       --------    -----
  10    0050.56aa.0101    DYNAMIC     Gi1/0/29
  20    0021.5555.42e6    DYNAMIC     Gi1/0/29
Total Mac Addresses for this criterion: 2
"""


def test_power_inline_rows_cover_on_off_faulty_and_deny() -> None:
    rows = {r.interface: r for r in parse_power_inline(POWER_INLINE)}
    assert rows["Gi1/0/1"] == PowerInlineRow("Gi1/0/1", "auto", "on", 6.3, "IP Phone 7962",
                                             None, 15.4)
    assert rows["Gi1/0/2"] == PowerInlineRow("Gi1/0/2", "off", "off", 0.0, None, None, 15.4)
    assert (rows["Gi1/0/3"].oper, rows["Gi1/0/3"].device) == ("off", None)  # plugged, no draw
    assert rows["Gi1/0/4"].oper == "faulty"
    assert (rows["Gi1/0/5"].oper, rows["Gi1/0/5"].device, rows["Gi1/0/5"].poe_class) == (
        "power-deny", "Ieee PD", "4")
    assert (rows["Gi1/0/6"].admin, rows["Gi1/0/6"].watts) == ("static", 15.4)


def test_power_inline_for_one_port() -> None:
    assert parse_power_inline(POWER_ONE_PORT) == [
        PowerInlineRow("Fa1/0/3", "off", "off", 0.0, None, None, 15.4)]


def test_nonexistent_port_is_a_lab_error_naming_the_command() -> None:
    with pytest.raises(LabError, match=r"rejected `show power inline`: % Invalid input"):
        parse_power_inline(NO_SUCH_PORT)


def test_unexpected_lines_are_a_lab_error_quoting_the_output() -> None:
    garbled = POWER_INLINE.replace("Gi1/0/4   auto", "Gi1/0/4 ???? auto ~~ weird")
    with pytest.raises(LabError, match=r"cannot parse `show power inline` output"):
        parse_power_inline(garbled.replace("faulty     0.0", "faulty"))


def test_interfaces_status() -> None:
    rows = parse_interfaces_status(INTERFACES_STATUS)
    assert rows[0] == InterfaceStatusRow("Gi1/0/1", "", "connected", "10", "a-full", "a-1000",
                                         "10/100/1000BaseTX")
    assert (rows[1].name, rows[1].status) == ("lab phone 2", "notconnect")
    assert rows[2].status == "disabled"


def test_cdp_neighbors_detail_finds_the_phones_port() -> None:
    first, second = parse_cdp_neighbors_detail(CDP_DETAIL)
    assert first == CdpNeighbor("SEP0021555542E6", "10.1.20.5", "Cisco IP Phone 7962",
                                "GigabitEthernet1/0/29", "Port 1",
                                "Host Phone Two-port Mac Relay", "SCCP42.8-4-2S")
    assert (second.device_id, second.address, second.software_version) == (
        "SEPB000B4BA0AEE", None, "sip8845_65.14-1-1SR1-4")


def test_mac_table_phone_and_pc_on_one_port() -> None:
    pc, phone = parse_mac_address_table(MAC_TABLE)
    assert phone == MacEntry("20", "0021.5555.42e6", "DYNAMIC", ("Gi1/0/29",))
    assert phone.mac_hex == "0021555542E6" and pc.vlan == "10"


def test_empty_tables_parse_to_nothing() -> None:
    assert parse_cdp_neighbors_detail("\nTotal cdp entries displayed : 0\n") == []
    assert parse_mac_address_table(MAC_TABLE.split("  10 ")[0]) == []


@pytest.mark.parametrize(
    ("name", "key"),
    [("GigabitEthernet1/0/3", "gi1/0/3"), ("Gi1/0/3", "gi1/0/3"), ("gig 1/0/3", "gi1/0/3"),
     ("FastEthernet0/1", "fa0/1"), ("Te1/1/1", "te1/1/1"), ("TenGigabitEthernet1/1/1", "te1/1/1"),
     ("TwoGigabitEthernet1/0/1", "tw1/0/1"), ("Ethernet0/0", "et0/0")],
)
def test_interface_key_matches_long_and_short_names(name: str, key: str) -> None:
    assert interface_key(name) == key


def test_ios_error_finds_the_percent_line() -> None:
    assert ios_error("x\n% Incomplete command.\n") == "% Incomplete command."
    assert ios_error('% Ambiguous command:  "sh p"') == '% Ambiguous command:  "sh p"'
    assert ios_error(POWER_INLINE) is None
