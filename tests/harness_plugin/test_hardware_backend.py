"""The hardware backend, end to end: twin phones stand in for a rack's real phones.

The plugin is given a `backend: hardware` topology whose switch and consoles are
those of a running twin whose ports are dark (`posing.py`). The backend must power
the phones on at bring-up (the first `settle()` sees them boot, with no reset in
the test), power-cycle phones a previous test left on so they boot against this
test's cluster, keep the rack's PKI across tests, and skip destructive tests unless
allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness_plugin.posing import posing_rack

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = '''
import pytest
from fixtures.expect import trusting

def test_1_rack_phones_boot_at_start(lab):
    assert lab.backend == "hardware"
    trusting(lab, lab.plain_phones(), after=0)  # no reset here: the backend powered them

def test_2_phones_left_on_boot_against_the_next_cluster(lab):
    found = trusting(lab, lab.plain_phones(), after=0, itl="unchanged")
    assert all(o.registrations == 1 for o in found.values()), found

@pytest.mark.destructive
def test_destructive(lab):
    lab.cluster.regenerate_certificate("tvs")
'''


def test_hardware_topology_powers_rack_phones_on_and_drives_them_through_the_same_drivers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    with posing_rack(tmp_path, 64) as rack:
        result = rack.run(pytester, monkeypatch, SCENARIO)
        ports = [rack.twin.switches["sw1"].find_port(p.port) for p in rack.twin.spec.phones
                 if p.model in ("7962", "8845")]
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*destructive on hardware: pass --phonelab-destructive*"])
    assert (pytester.path / "pki" / "lab-under-test" / "rack-a" / "pki" / "manifest.json").exists()
    assert all(port is not None and port.admin_poe == "auto" for port in ports), ports


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
    trusting(lab, lab.plain_phones(), after=mark, itl="unchanged")  # trusted at bring-up
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
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """keypad: cgi on a hardware rack: `http://<address>/CGI/Execute`, the phone checks the
    credentials against the harness cluster's authenticationURL from its config."""
    with posing_rack(tmp_path, 76) as rack:
        where = rack.twin.describe()
        phones = [p for p in where["phones"] if p["model"] in ("7962", "8845")]
        if any(p["web"] != f"http://{p['address']}" for p in phones):
            pytest.skip("port 80 on the phones' loopback addresses is taken (or not root)")
        topology = rack.topology(keypad="cgi", addresses=True)
        topology["racks"][0]["cgi"] = {"username_env": "RACK_A_CGI_USER",
                                       "password_env": "RACK_A_CGI_PASSWORD"}
        (pytester.path / "rack.yaml").write_text(yaml.safe_dump(topology))
        pytester.makepyfile(test_scenario=CGI_SCENARIO)
        monkeypatch.setenv("RACK_A_USER", where["switch"]["username"])
        monkeypatch.setenv("RACK_A_PASSWORD", where["switch"]["password"])
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
