"""dnsmasq as `DhcpServer` and under `phonelab serve`, checked by udhcpc as the phone.

udhcpc (busybox, not ours) runs in a client namespace with the veth MAC set to a
topology phone's MAC and asks for options 150 and 66 the way a phone does; its
script dumps what it was given. Option 150 must arrive as raw IPv4 addresses in
the topology's node order (docs/REAL_WIRE.md §7).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import LabError
from harness.events import EventLog
from harness.rack_network.dhcp_server import DhcpServer
from lab_topology import parse_lab
from lab_topology.dhcp import phone_mac
from lab_topology.schema import RackSpec
from tests.rack_network.netns import Wire, veth_pair

pytestmark = pytest.mark.skipif(
    shutil.which("dnsmasq") is None or shutil.which("udhcpc") is None,
    reason="needs Debian dnsmasq-base and udhcpc")

STATIC, DYNAMIC, STRANGER = "SEP00215555A2E6", "SEPB000B4BA0AEE", "02:00:00:00:99:01"
PHONELAB = Path(sys.executable).with_name("phonelab")


def topology(interface: str) -> dict[str, Any]:
    return {"name": "nslab", "backend": "hardware", "racks": [{
        "name": "ns",
        "cluster": {"nodes": [
            {"name": "cucm2", "address": "198.18.0.2"},  # listed first: first in option 150
            {"name": "cucm1", "address": "198.18.0.1"},
            {"name": "cucm3", "address": "198.18.0.3", "services": ["tvs"]},  # no TFTP
        ]},
        "switches": [{"name": "sw1"}],
        "phones": [
            {"name": STATIC, "model": "7962", "switch": "sw1", "port": "Gi1/0/1",
             "address": "198.18.0.42"},
            {"name": DYNAMIC, "model": "8861", "switch": "sw1", "port": "Gi1/0/2"},
        ],
        "dhcp": {"interface": interface, "range": ["198.18.0.100", "198.18.0.150"],
                 "router": "198.18.0.254", "lease_time": 600},
    }]}


def rack_of(interface: str) -> RackSpec:
    return parse_lab(topology(interface)).racks[0]


SERVER = ["198.18.0.2/24", "198.18.0.1/24", "198.18.0.3/24"]


VENDOR = "Cisco Systems, Inc. IP Phone CP-7962G"  # option 60 as a 7962 sends it


def udhcpc(wire: Wire, out: Path, tries: int = 5) -> dict[str, str]:
    """Ask for a lease as the client namespace; the env udhcpc gave its script on `bound`."""
    script = out / "dump.sh"
    script.write_text(f'#!/bin/sh\nenv > "{out}/env.$1"\n')
    script.chmod(0o755)
    subprocess.run(["ip", "netns", "exec", wire.client, "udhcpc", "-i", wire.client_if, "-n",
                    "-q", "-t", str(tries), "-T", "1", "-O", "150", "-O", "tftp", "-V", VENDOR,
                    "-s", str(script)], capture_output=True, text=True, timeout=tries * 2 + 5)
    bound = out / "env.bound"
    if not bound.exists():
        return {}
    return dict(line.split("=", 1) for line in bound.read_text().splitlines() if "=" in line)


def option_150(hex_text: str) -> list[str]:
    raw = bytes.fromhex(hex_text)
    return [str(IPv4Address(raw[i:i + 4])) for i in range(0, len(raw), 4)]


def test_topology_phone_gets_its_static_lease_and_option_150_in_node_order(
        tmp_path: Path) -> None:
    with veth_pair(SERVER, phone_mac(STATIC)) as wire:
        events = EventLog()
        server = DhcpServer(rack_of(wire.server_if), tmp_path / "run", events,
                            netns=wire.server)
        try:
            server.start()
            assert server.running and server.address == (wire.server_if, 67)
            env = udhcpc(wire, tmp_path)
            events.wait_for(lambda e: e.kind == "dhcp.ack", 5)
        finally:
            server.stop()
        pid = server.files.pid.read_text().strip()
    assert env["ip"] == "198.18.0.42"
    assert option_150(env["opt150"]) == ["198.18.0.2", "198.18.0.1"]
    assert env["tftp"] == "198.18.0.2"  # option 66: the first TFTP node
    assert env["router"] == "198.18.0.254" and env["mask"] == "24"
    assert env["lease"] == "600"
    ack = events.of_kind("dhcp.ack")[0]
    assert ack.phone == STATIC and ack.data["peer"] == "198.18.0.42"
    assert ack.data["mac"] == "00:21:55:55:a2:e6" and ack.data["vendor_class"] == VENDOR
    assert events.phone_at("198.18.0.42") == STATIC
    assert not server.running and not Path(f"/proc/{pid}").exists()


def test_phone_without_address_leases_from_the_range_and_a_stranger_gets_nothing(
        tmp_path: Path) -> None:
    with veth_pair(SERVER, phone_mac(DYNAMIC)) as wire:
        events = EventLog()
        server = DhcpServer(rack_of(wire.server_if), tmp_path / "run", events,
                            netns=wire.server)
        try:
            server.start()
            (tmp_path / "a").mkdir()
            env = udhcpc(wire, tmp_path / "a")
            subprocess.run(["ip", "-n", wire.client, "link", "set", wire.client_if, "address",
                            STRANGER], check=True, timeout=10)
            (tmp_path / "b").mkdir()
            began = time.monotonic()
            stranger = udhcpc(wire, tmp_path / "b", tries=1)
            assert time.monotonic() - began < 10
            events.wait_for(lambda e: e.kind == "dhcp.discover" and e.data["mac"] == STRANGER, 5)
        finally:
            server.stop()
    assert IPv4Address("198.18.0.100") <= IPv4Address(env["ip"]) <= IPv4Address("198.18.0.150")
    assert option_150(env["opt150"]) == ["198.18.0.2", "198.18.0.1"]
    assert stranger == {}
    unknown = [e for e in events.of_kind("dhcp") if e.data["mac"] == STRANGER]
    assert unknown and all(e.phone is None for e in unknown)
    assert "ignored" in unknown[0].data.get("note", "")


def test_missing_interface_is_one_lab_error_and_nothing_left_running(tmp_path: Path) -> None:
    with veth_pair(SERVER, phone_mac(STATIC)) as wire:
        server = DhcpServer(rack_of("nosuch0"), tmp_path / "run", EventLog(), netns=wire.server)
        with pytest.raises(LabError) as info:
            server.start()
    message = str(info.value)
    assert "unknown interface nosuch0" in message and "phonelab lab prepare" in message
    assert "\n" not in message and not server.running


def test_missing_dnsmasq_binary_is_a_lab_error(tmp_path: Path) -> None:
    server = DhcpServer(rack_of("eth9"), tmp_path / "run", EventLog(),
                        binary=str(tmp_path / "no-dnsmasq"))
    with pytest.raises(LabError, match=r"dnsmasq is not installed .*dnsmasq-base"):
        server.start()


def test_dnsmasq_left_by_a_killed_run_is_stopped_before_the_next_start(tmp_path: Path) -> None:
    with veth_pair(SERVER, phone_mac(STATIC)) as wire:
        rack = rack_of(wire.server_if)
        first = DhcpServer(rack, tmp_path / "run", EventLog(), netns=wire.server)
        second = DhcpServer(rack, tmp_path / "run", EventLog(), netns=wire.server)
        try:
            first.start()
            old = first.pid
            second.start()  # as a new serve would after the first was SIGKILLed
            assert first._proc is not None and first._proc.wait(5) is not None
            assert second.running and second.pid != old
            assert second.events.of_kind("dhcp.leftover_stopped")[0].data["pid"] == old
            assert udhcpc(wire, tmp_path)["ip"] == "198.18.0.42"
        finally:
            first.stop()
            second.stop()


def test_phonelab_serve_runs_dnsmasq_and_stops_it_on_sigterm(tmp_path: Path) -> None:
    with veth_pair(SERVER, phone_mac(STATIC)) as wire:
        lab = tmp_path / "ns.yaml"
        lab.write_text(yaml.safe_dump(topology(wire.server_if)))
        run = tmp_path / "run"
        proc = subprocess.Popen(
            ["ip", "netns", "exec", wire.server, str(PHONELAB), "serve", "--lab", str(lab),
             "--ephemeral-ports", "--pki", str(tmp_path / "pki"), "--run-dir", str(run)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines: list[str] = []
            assert proc.stdout is not None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if "serving cluster" in line:
                    break
            assert any(f"dhcp@{wire.server_if}" in x and ":67" in x for x in lines), lines
            env = udhcpc(wire, tmp_path)
            pid = run.joinpath("dnsmasq.pid").read_text().strip()
            assert Path(f"/proc/{pid}").exists()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert env["ip"] == "198.18.0.42" and option_150(env["opt150"])[0] == "198.18.0.2"
    assert f"dhcp.ack {STATIC}" in out  # the event line, keyed by the phone's MAC
    assert not Path(f"/proc/{pid}").exists()


def test_phonelab_serve_with_a_missing_dhcp_interface_is_one_line_exit_3(tmp_path: Path) -> None:
    with veth_pair(SERVER, phone_mac(STATIC)) as wire:
        lab = tmp_path / "ns.yaml"
        lab.write_text(yaml.safe_dump(topology("nosuch0")))
        result = subprocess.run(
            ["ip", "netns", "exec", wire.server, str(PHONELAB), "serve", "--lab", str(lab),
             "--ephemeral-ports", "--pki", str(tmp_path / "pki"), "--run-dir",
             str(tmp_path / "run")], capture_output=True, text=True, timeout=60)
        without = subprocess.Popen(
            ["ip", "netns", "exec", wire.server, str(PHONELAB), "serve", "--lab", str(lab),
             "--ephemeral-ports", "--pki", str(tmp_path / "pki"), "--no-dhcp"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert without.stdout is not None
            seen = [without.stdout.readline() for _ in range(5)]  # PKI line, first endpoints
            without.send_signal(signal.SIGTERM)
            out, err = without.communicate(timeout=20)
        finally:
            without.kill()
            without.communicate()
    lines = result.stderr.strip().splitlines()
    assert (result.returncode, len(lines)) == (3, 1), result.stderr
    assert lines[0].startswith("phonelab: lab error: DHCP for rack ns on nosuch0: dnsmasq: "
                               "unknown interface nosuch0")
    assert without.returncode == 0, err
    assert "tftp@cucm2" in "".join(seen) and "dhcp@" not in "".join(seen) + out
