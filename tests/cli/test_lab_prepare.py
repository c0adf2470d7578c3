"""`phonelab lab prepare`: what the host lacks for a rack, the exact fix, and `--apply`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.rack_network.netns import namespace
from tests.rack_network.test_dhcp_netns import topology

PHONELAB = Path(sys.executable).with_name("phonelab")


def prepare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONELAB), "lab", "prepare", *args], capture_output=True,
                          text=True, timeout=30)


def write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


def loopback_rack(address: str) -> dict[str, Any]:
    """A hardware rack without dhcp whose single node is `address`, ports any free."""
    document = topology("lo")
    rack = document["racks"][0]
    del rack["dhcp"]
    rack["cluster"]["nodes"] = [{"name": "cucm1", "address": address}]
    for phone in rack["phones"]:
        phone.pop("address", None)
    return document


def test_missing_node_addresses_exit_1_with_the_exact_commands(tmp_path: Path) -> None:
    # 198.18.250.0/24 is on no interface of a test host (tests only use it in namespaces)
    lab = write(tmp_path, loopback_rack("198.18.250.11"))
    result = prepare("--lab", lab, "--interface", "lo")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "MISSING node cucm1 198.18.250.11 is not on lo" in lines
    assert "        fix: ip addr add 198.18.250.11/24 dev lo" in lines
    assert lines[-1] == f"rack ns of {lab}: 1 thing(s) to fix before `phonelab serve`"
    unknown = prepare("--lab", lab)
    assert unknown.returncode == 1
    assert "give the interface facing the phones: --interface IFACE" in unknown.stdout


def test_addresses_present_exit_0(tmp_path: Path) -> None:
    lab = write(tmp_path, loopback_rack("127.0.0.1"))
    result = prepare("--lab", lab)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok      node cucm1 127.0.0.1 is on lo" in result.stdout
    assert result.stdout.splitlines()[-1] == f"rack ns of {lab}: this host is ready"


def test_apply_adds_the_addresses_inside_a_namespace(tmp_path: Path) -> None:
    lab = write(tmp_path, topology("lo"))  # dhcp on lo: 198.18.0.1-3/24 must be on lo
    with namespace() as ns:
        before = prepare("--lab", lab, "--netns", ns)
        assert before.returncode == 1
        assert f"        fix: ip -n {ns} addr add 198.18.0.2/24 dev lo" in before.stdout
        applied = prepare("--lab", lab, "--netns", ns, "--apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert applied.stdout.count("ran: ") == 3
        shown = json.loads(subprocess.run(["ip", "-n", ns, "-j", "addr", "show", "lo"],
                                          capture_output=True, text=True, timeout=10).stdout)
    have = {(a["local"], a["prefixlen"]) for a in shown[0]["addr_info"]}
    assert {("198.18.0.1", 24), ("198.18.0.2", 24), ("198.18.0.3", 24)} <= have


def test_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    lab = write(tmp_path, loopback_rack("127.0.0.1"))
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: [unclosed\n")
    cases = [
        (["--lab", str(tmp_path / "absent.yaml")], "cannot read topology"),
        (["--lab", str(bad_yaml)], "not valid YAML"),
        (["--lab", lab, "--rack", "nope"], "no rack 'nope'; racks are ns"),
        (["--lab", lab, "--interface", "eth 0/1"], "bad --interface 'eth 0/1'"),
    ]
    for args, text in cases:
        result = prepare(*args)
        lines = result.stderr.strip().splitlines()
        assert (result.returncode, len(lines)) == (2, 1), result.stderr
        assert text in lines[0] and "Traceback" not in result.stderr


def test_serve_without_the_node_address_points_at_lab_prepare(tmp_path: Path) -> None:
    lab = write(tmp_path, loopback_rack("198.18.250.11"))
    result = subprocess.run([str(PHONELAB), "serve", "--lab", lab, "--ephemeral-ports", "--pki",
                             str(tmp_path / "pki")], capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert (result.returncode, len(lines)) == (3, 1), result.stderr
    assert "198.18.250.11" in lines[0] and f"phonelab lab prepare --lab {lab}" in lines[0]


def test_apply_without_cap_net_admin_is_one_line_exit_2(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("util-linux setpriv is not installed")
    lab = write(tmp_path, loopback_rack("198.18.250.11"))
    result = subprocess.run(["setpriv", "--bounding-set=-net_admin", str(PHONELAB), "lab",
                             "prepare", "--lab", lab, "--interface", "lo", "--apply"],
                            capture_output=True, text=True, timeout=30)
    if "setpriv:" in result.stderr:
        pytest.skip(f"cannot drop a capability here: {result.stderr.strip()}")
    lines = result.stderr.strip().splitlines()
    assert (result.returncode, len(lines)) == (2, 1), result.stderr
    assert "--apply: adding addresses needs root (CAP_NET_ADMIN)" in lines[0]
    assert "        fix: ip addr add 198.18.250.11/24 dev lo" in result.stdout.splitlines()
    assert "ran: " not in result.stdout
