"""The hardware backend, end to end: twin phones stand in for a rack's real phones.

The plugin is given a `backend: hardware` topology whose switch and consoles are
those of a running twin, and whose cluster address is where those phones were
told (by "DHCP option 150") to find TFTP. So the plugin's hardware path runs for
real: its own cluster on fixed ports, credentials from the environment, consoles
opened by URL, PoE over netmiko, and destructive tests skipped unless allowed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab_topology import load_lab
from phone_drivers.emulator.twin import TwinRack
from tests.isolated_lab import isolated_twin_lab

ROOT = Path(__file__).resolve().parents[2]
NODE = "127.64.9.1"
SCENARIO = '''
import pytest
from fixtures.expect import settle, trusting

def test_rack_phones_boot_against_the_harness_cluster(lab):
    assert lab.backend == "hardware"
    mark = lab.reset_all(how="power", off_seconds=0.2)
    trusting(lab, lab.plain_phones(), after=mark)

@pytest.mark.destructive
def test_destructive(lab):
    lab.cluster.regenerate_certificate("tvs")
'''


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def rack_hardware(tmp_path: Path) -> Iterator[tuple[TwinRack, int]]:
    port = free_udp_port(NODE)
    lab = load_lab(isolated_twin_lab(tmp_path, 64))
    twin = TwinRack(lab, lab.racks[0], tmp_path / "twin", powered=False,
                    tftp_servers=[(NODE, port)])
    twin.start()
    yield twin, port
    twin.stop()


def test_hardware_topology_drives_rack_phones_through_the_same_drivers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    rack_hardware: tuple[TwinRack, int],
) -> None:
    twin, tftp_port = rack_hardware
    where = twin.describe()
    switch = where["switch"]
    topology = {
        "name": "lab-under-test", "backend": "hardware",
        "racks": [{
            "name": "rack-a",
            "cluster": {"nodes": [{"name": "cucm1", "address": NODE}],
                        "ports": {"tftp": tftp_port}},
            "switches": [{"name": "sw1", "host": switch["host"], "port": switch["port"],
                          "credentials": {"username_env": "RACK_A_USER",
                                          "password_env": "RACK_A_PASSWORD"}}],
            "phones": [{"name": p["name"], "model": p["model"], "switch": "sw1",
                        "port": p["switch_port"], "console": {"url": p["console"]},
                        "keypad": "console"}
                       for p in where["phones"] if p["model"] in ("7962", "8845")],
        }],
    }
    (pytester.path / "rack.yaml").write_text(yaml.safe_dump(topology))
    pytester.makepyfile(test_scenario=SCENARIO)
    monkeypatch.setenv("RACK_A_USER", switch["username"])
    monkeypatch.setenv("RACK_A_PASSWORD", switch["password"])
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}", "-rs",
        "--lab", str(pytester.path / "rack.yaml"),
        "--phonelab-pki-dir", str(pytester.path / "pki"),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=180)
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*destructive on hardware: pass --phonelab-destructive*"])
    assert (pytester.path / "pki" / "lab-under-test" / "rack-a" / "pki" / "manifest.json").exists()


def test_missing_switch_credentials_are_one_clear_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHONELAB_SWITCH_USER", raising=False)
    monkeypatch.delenv("PHONELAB_SWITCH_PASSWORD", raising=False)
    pytester.makepyfile(test_scenario="def test_x(lab):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}",
        "--lab", str(ROOT / "lab_topology" / "rack-example.yaml"),
        "--phonelab-pki-dir", str(pytester.path / "pki"),
        "--phonelab-lease-dir", str(pytester.path / "leases"), timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*set LAB3_SW_USER and LAB3_SW_PASSWORD in the environment*"])


CGI_SCENARIO = '''
from fixtures.expect import trusting

def test_cgi_keypad_erases_the_itl_of_a_rack_phone(lab):
    assert lab.backend == "hardware"
    mark = lab.reset_all(how="power", off_seconds=0.2)
    trusting(lab, lab.plain_phones(), after=mark)
    name = next(n for n, p in lab.phones.items() if p.model.model == "7962")
    assert not lab.phones[name].keypad.needs_operator
    erased = lab.events.mark()
    lab.phones[name].erase_itl()
    lab.wait_console(name, "Erasing ITL file", after=erased)
    auth = [e for e in lab.events.since(erased) if e.kind == "https.auth"]
    assert auth and {e.data["result"] for e in auth} == {"AUTHORIZED"}
    assert {(e.data["device"], e.data["user"]) for e in auth} == {(name, "labkeys")}
'''


def test_hardware_cgi_keypad_uses_env_credentials_and_the_harness_auth_url(
    rack_hardware: tuple[TwinRack, int], pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """keypad: cgi on a hardware rack: `http://<address>/CGI/Execute`, the phone checks the
    credentials against the harness cluster's authenticationURL from its config."""
    twin, tftp_port = rack_hardware
    where = twin.describe()
    phones = [p for p in where["phones"] if p["model"] in ("7962", "8845")]
    if any(p["web"] != f"http://{p['address']}" for p in phones):
        pytest.skip("port 80 on the phones' loopback addresses is taken (or not root)")
    switch = where["switch"]
    topology = {
        "name": "lab-under-test", "backend": "hardware",
        "racks": [{
            "name": "rack-a",
            "cluster": {"nodes": [{"name": "cucm1", "address": NODE}],
                        "ports": {"tftp": tftp_port}},
            "switches": [{"name": "sw1", "host": switch["host"], "port": switch["port"],
                          "credentials": {"username_env": "RACK_A_USER",
                                          "password_env": "RACK_A_PASSWORD"}}],
            "cgi": {"username_env": "RACK_A_CGI_USER", "password_env": "RACK_A_CGI_PASSWORD"},
            "phones": [{"name": p["name"], "model": p["model"], "switch": "sw1",
                        "port": p["switch_port"], "console": {"url": p["console"]},
                        "address": p["address"]} for p in phones],
        }],
    }
    (pytester.path / "rack.yaml").write_text(yaml.safe_dump(topology))
    pytester.makepyfile(test_scenario=CGI_SCENARIO)
    monkeypatch.setenv("RACK_A_USER", switch["username"])
    monkeypatch.setenv("RACK_A_PASSWORD", switch["password"])
    monkeypatch.setenv("RACK_A_CGI_USER", "labkeys")
    monkeypatch.setenv("RACK_A_CGI_PASSWORD", "a-rack-secret")
    args = ("-p", "no:randomly", f"--rootdir={pytester.path}", "-rs",
            "--lab", str(pytester.path / "rack.yaml"),
            "--phonelab-pki-dir", str(pytester.path / "pki"),
            "--phonelab-lease-dir", str(pytester.path / "leases"),
            "--phonelab-log-dir", str(pytester.path / "logs"))
    result = pytester.runpytest_subprocess(*args, timeout=180)
    result.assert_outcomes(passed=1)
    monkeypatch.delenv("RACK_A_CGI_PASSWORD")
    result = pytester.runpytest_subprocess(*args, timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*CGI keypad credentials missing: set RACK_A_CGI_USER and "
                                 "RACK_A_CGI_PASSWORD*"])
