"""The dnsmasq file for a rack, `ip -j addr` reading, and the host checks with their fixes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.cluster.plane import Ports
from harness.errors import LabError
from harness.rack_network.dnsmasq_config import RunFiles, dnsmasq_config
from harness.rack_network.host import HostNetwork, Link, parse_ip_addr
from harness.rack_network.prepare import check_rack
from tests.rack_network.test_dhcp_netns import rack_of

IP_J = [
    {"ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "addr_info": [
        {"family": "inet", "local": "127.0.0.1", "prefixlen": 8},
        {"family": "inet6", "local": "::1", "prefixlen": 128}]},
    {"ifname": "eth1", "flags": ["BROADCAST", "UP"], "addr_info": [
        {"family": "inet", "local": "198.18.0.2", "prefixlen": 24}]},
    {"ifname": "eth2", "flags": ["BROADCAST"], "addr_info": [
        {"family": "inet", "local": "198.18.0.1", "prefixlen": 24}]},
]


def test_config_lists_tftp_nodes_in_order_static_leases_and_only_known_phones(
        tmp_path: Path) -> None:
    lines = dnsmasq_config(rack_of("eth1"), RunFiles(tmp_path)).splitlines()
    assert "port=0" in lines and "interface=eth1" in lines and "bind-interfaces" in lines
    assert "dhcp-range=198.18.0.100,198.18.0.150,255.255.255.0,600" in lines
    assert "dhcp-option=150,198.18.0.2,198.18.0.1" in lines  # cucm3 runs no TFTP
    assert "dhcp-option=66,198.18.0.2" in lines and "dhcp-option=3,198.18.0.254" in lines
    assert "dhcp-host=00:21:55:55:a2:e6,198.18.0.42" in lines
    assert "dhcp-host=b0:00:b4:ba:0a:ee" in lines
    assert "dhcp-ignore=tag:!known" in lines
    assert f"dhcp-leasefile={tmp_path}/dnsmasq.leases" in lines
    assert f"log-facility={tmp_path}/dnsmasq.log" in lines and "log-dhcp" in lines


def test_ip_json_is_read_and_garbage_is_a_lab_error() -> None:
    network = parse_ip_addr(json.dumps(IP_J))
    assert network.links["eth1"].up and not network.links["eth2"].up
    assert [str(a) for a in network.links["lo"].addresses] == ["127.0.0.1/8"]
    assert network.where(parse_ip_addr(json.dumps(IP_J)).links["eth1"].addresses[0].ip) == "eth1"
    for bad in ("not json", "[{}]", '[{"ifname": "x", "addr_info": [{"family": "inet"}]}]'):
        with pytest.raises(LabError, match="ip -j addr"):
            parse_ip_addr(bad)


def test_missing_node_addresses_get_the_exact_ip_addr_add_line() -> None:
    findings = check_rack(rack_of("eth1"), parse_ip_addr(json.dumps(IP_J)), None, Ports())
    bad = {f.what: f.fix for f in findings if not f.ok}
    assert bad["node cucm3 198.18.0.3 is not on eth1"] == ("ip addr add 198.18.0.3/24 dev eth1",)
    assert bad["node cucm1 198.18.0.1 is not on eth1 (it is on eth2, but dnsmasq answers on "
               "eth1)"] == ("ip addr add 198.18.0.1/24 dev eth1",)
    assert any(f.ok and f.what == "node cucm2 198.18.0.2 is on eth1" for f in findings)
    down = check_rack(rack_of("eth2"), parse_ip_addr(json.dumps(IP_J)), None, Ports())
    assert ("ip link set eth2 up",) in [f.fix for f in down if not f.ok]
    gone = check_rack(rack_of("eth7"), parse_ip_addr(json.dumps(IP_J)), None, Ports(),
                      netns="labns")
    assert "interface eth7 does not exist on this host" in [f.what for f in gone]
    assert ("ip -n labns addr add 198.18.0.2/24 dev eth7",) in [f.fix for f in gone]
    assert all(not f.command for f in gone)  # nothing to run on an interface that is absent


def test_all_addresses_present_is_ready() -> None:
    if os.geteuid() != 0:
        pytest.skip("port 69 and DHCP are only ready for root")
    links = {"eth1": Link("eth1", True, False, tuple(
        parse_ip_addr(json.dumps([{"ifname": "eth1", "flags": ["UP"], "addr_info": [
            {"family": "inet", "local": f"198.18.0.{n}", "prefixlen": 24} for n in (1, 2, 3)
        ]}])).links["eth1"].addresses))}
    findings = check_rack(rack_of("eth1"), HostNetwork(links), None, Ports(tftp=69),
                          dnsmasq="/bin/sh")
    assert all(f.ok for f in findings), findings
    missing = check_rack(rack_of("eth1"), HostNetwork(links), None, Ports(),
                         dnsmasq="/nonexistent/dnsmasq")
    assert [f.fix for f in missing if not f.ok] == [("apt-get install dnsmasq-base",)]
