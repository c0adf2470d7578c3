"""The hardware path of an `ssh://` console, end to end, with a twin 8845 as the rack phone.

The plugin reads the phone's SSH user from the environment variables the topology
names, its cluster writes them into the phone's config (sshUserId/sshPassword), the
phone accepts that login once it has the config, and the test sees its log through
`SshConsole`. Same setup as test_hardware_backend.py, on other loopback addresses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab_topology import load_lab
from phone_drivers.emulator.twin import TwinRack
from tests.harness_plugin.posing import free_udp_port
from tests.isolated_lab import isolated_twin_lab

ROOT = Path(__file__).resolve().parents[2]
NODE = "127.72.9.1"
SCENARIO = '''
from fixtures.expect import trusting
from phone_drivers.console_ssh import SshConsole

def test_8845_log_comes_over_ssh(lab):
    name = "SEP00000A000002"
    # the bring-up boot trusts the ITL on first use; a power cycle keeps it (flash), and
    # each boot's verdicts arrive over its own SSH session (a cycle that landed mid-boot
    # used to decide which verdict the second boot printed)
    trusting(lab, [name], after=0)
    mark = lab.reset_all(how="power", off_seconds=0.2)
    trusting(lab, [name], after=mark, itl="unchanged")
    console = lab.phones[name].console
    assert isinstance(console, SshConsole)
    assert console.sessions >= 2
    assert "streaming 'show strace'" in console.log_path.read_text()
'''


@pytest.fixture
def rack_phone(tmp_path: Path) -> Iterator[tuple[TwinRack, int]]:
    port = free_udp_port(NODE)
    lab = load_lab(isolated_twin_lab(tmp_path, 72))
    twin = TwinRack(lab, lab.racks[0], tmp_path / "twin", powered=False,
                    tftp_servers=[(NODE, port)])
    twin.start()
    yield twin, port
    twin.stop()


def topology(twin: TwinRack, tftp_port: int, phone_users: dict[str, str]) -> dict[str, object]:
    where = twin.describe()
    switch = where["switch"]
    phone = next(p for p in where["phones"] if p["model"] == "8845")
    return {
        "name": "lab-ssh", "backend": "hardware",
        "racks": [{
            "name": "rack-b",
            "cluster": {"nodes": [{"name": "cucm1", "address": NODE}],
                        "ports": {"tftp": tftp_port}},
            "switches": [{"name": "sw1", "host": switch["host"], "port": switch["port"],
                          "credentials": {"username_env": "RACK_B_USER",
                                          "password_env": "RACK_B_PASSWORD"}}],
            "phones": [{"name": phone["name"], "model": "8845", "switch": "sw1",
                        "port": phone["switch_port"], "address": phone["address"],
                        "console": {"url": f"ssh://:{phone['ssh']}",
                                    "credentials": phone_users},
                        "keypad": "console"}],
        }],
    }


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, twin: TwinRack,
        document: dict[str, object]) -> pytest.RunResult:
    (pytester.path / "rack.yaml").write_text(yaml.safe_dump(document))
    pytester.makepyfile(test_scenario=SCENARIO)
    monkeypatch.setenv("RACK_B_USER", twin.describe()["switch"]["username"])
    monkeypatch.setenv("RACK_B_PASSWORD", twin.describe()["switch"]["password"])
    return pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}",
        "--lab", str(pytester.path / "rack.yaml"),
        "--phonelab-pki-dir", str(pytester.path / "pki"),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=180)


def test_phone_ssh_login_from_the_environment_reaches_the_phone_and_back(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    rack_phone: tuple[TwinRack, int],
) -> None:
    twin, tftp_port = rack_phone
    monkeypatch.setenv("RACK_B_PHONE_USER", "bench")
    monkeypatch.setenv("RACK_B_PHONE_PASSWORD", "pw-from-env")
    result = run(pytester, monkeypatch, twin, topology(twin, tftp_port, {
        "username_env": "RACK_B_PHONE_USER", "password_env": "RACK_B_PHONE_PASSWORD"}))
    result.assert_outcomes(passed=1)


def test_missing_phone_ssh_variable_is_one_clear_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    rack_phone: tuple[TwinRack, int],
) -> None:
    twin, tftp_port = rack_phone
    monkeypatch.setenv("RACK_B_PHONE_USER", "bench")
    monkeypatch.delenv("RACK_B_PHONE_PASSWORD", raising=False)
    result = run(pytester, monkeypatch, twin, topology(twin, tftp_port, {
        "username_env": "RACK_B_PHONE_USER", "password_env": "RACK_B_PHONE_PASSWORD"}))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*set RACK_B_PHONE_PASSWORD (SEP00000A000002) in the "
                                 "environment*"])
