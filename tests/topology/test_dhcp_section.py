"""The rack `dhcp:` section: valid forms, and one clear line per mistake."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.errors import UsageError
from lab_topology import parse_lab
from lab_topology.dhcp import phone_mac
from tests.rack_network.test_dhcp_netns import topology

BASE = topology("eth1")


def with_dhcp(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    dhcp = document["racks"][0]["dhcp"]
    for key, value in changes.items():
        if value is None:
            dhcp.pop(key, None)
        else:
            dhcp[key] = value
    return document


def error_of(document: dict[str, Any]) -> str:
    with pytest.raises(UsageError) as info:
        parse_lab(document, "lab.yaml")
    return str(info.value)


def test_dhcp_section_is_off_by_default_and_derives_the_subnet_from_the_nodes() -> None:
    plain = copy.deepcopy(BASE)
    del plain["racks"][0]["dhcp"]
    assert parse_lab(plain).racks[0].dhcp is None
    rack = parse_lab(BASE).racks[0]
    assert rack.dhcp is not None
    assert str(rack.dhcp.network(rack.cluster.nodes)) == "198.18.0.0/24"
    wide = parse_lab(with_dhcp(prefix=16, range=["198.18.5.1", "198.18.5.9"])).racks[0]
    assert wide.dhcp is not None and str(wide.dhcp.network(wide.cluster.nodes)) == "198.18.0.0/16"
    assert phone_mac("SEP0021555542E6") == "00:21:55:55:42:e6"


@pytest.mark.parametrize(("changes", "message"), [
    ({"range": ["198.18.1.100", "198.18.1.150"]},
     "dhcp.range: 198.18.1.100 is outside the phone subnet 198.18.0.0/24 (from node cucm2's "
     "address with prefix /24)"),
    ({"range": ["198.18.0.150", "198.18.0.100"]},
     "dhcp.range: 198.18.0.150 comes after 198.18.0.100; write [first, last]"),
    ({"range": ["198.18.0.1", "198.18.0.50"]}, "contains node cucm2's address 198.18.0.2"),
    ({"router": "198.18.9.1"}, "dhcp.router: 198.18.9.1 is outside the phone subnet"),
    ({"subnet": "198.19.0.0/24"}, "node cucm2 address 198.18.0.2 is outside the phone subnet "
     "198.19.0.0/24 (from dhcp.subnet)"),
    ({"subnet": "198.18.0.0/24", "prefix": 24}, "dhcp: give subnet or prefix, not both"),
    ({"range": ["198.18.0.100"]}, "racks[0].dhcp.range"),
    ({"router": "fe80::1"}, "write an IPv4 address"),
    ({"interface": "eth 1"}, "racks[0].dhcp.interface"),
    ({"lease_time": 30}, "racks[0].dhcp.lease_time"),
    ({"interface": None}, "racks[0].dhcp.interface: required key is missing"),
    ({"dns": "198.18.0.1"}, "racks[0].dhcp.dns: unknown key"),
])
def test_each_mistake_is_one_clear_line(changes: dict[str, Any], message: str) -> None:
    error = error_of(with_dhcp(**changes))
    assert message in error and error.startswith("lab.yaml: ")
    assert len(error.splitlines()) == 1


def test_phone_address_must_fit_the_subnet_and_twin_racks_refuse_dhcp() -> None:
    outside = copy.deepcopy(BASE)
    outside["racks"][0]["phones"][0]["address"] = "198.18.7.1"
    assert "phone SEP00215555A2E6 address 198.18.7.1 is outside the DHCP subnet" in error_of(
        outside)
    clash = copy.deepcopy(BASE)
    clash["racks"][0]["phones"][1]["address"] = "198.18.0.42"
    assert "address 198.18.0.42 is phone SEP00215555A2E6's" in error_of(clash)
    no_tftp = copy.deepcopy(BASE)
    for node in no_tftp["racks"][0]["cluster"]["nodes"]:
        node["services"] = ["tvs"]
    assert "no node runs tftp" in error_of(no_tftp)
    twin = copy.deepcopy(BASE)
    twin["backend"] = "twin"
    rack = twin["racks"][0]
    for n, node in enumerate(rack["cluster"]["nodes"]):
        node["address"] = f"127.0.9.{n + 1}"
    rack["phones"][0]["address"] = "127.0.9.42"
    rack["dhcp"].update(range=["127.0.9.100", "127.0.9.150"], router="127.0.9.254")
    assert "dhcp is for hardware racks" in error_of(twin)
