"""Unattended runs never block and never error in teardown; destructive tests are undone.

On a rack whose keypads need a person, a test that presses keys (marked
`needs_keys`, or destructive on hardware, whose recovery presses keys) is skipped
with the reason before anything is powered. With keypads a program can drive (the
twin's console), the same tests run, and after a destructive test on hardware the
backend erases the phones' trust lists so the next test's cluster is trusted on
first use again; a phone it cannot put back is left out (and dark), not an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness_plugin.posing import posing_rack
from tests.isolated_lab import isolated_twin_lab

ROOT = Path(__file__).resolve().parents[2]
UNATTENDED = '''
import pytest
from fixtures.expect import settle

@pytest.mark.destructive
def test_1_destructive_needs_keys_to_recover(lab):
    raise AssertionError("must be skipped: recovering the phones needs an operator")

@pytest.mark.needs_keys
def test_2_presses_keys(lab):
    raise AssertionError("must be skipped: the keys need an operator")

def test_3_no_keys(lab):
    settle(lab)
'''
RECOVERY = '''
import pytest
from fixtures.expect import trusting

@pytest.mark.destructive
def test_1_regenerate_tftp_then_tvs(lab):
    phones = lab.plain_phones()
    trusting(lab, phones, after=0)
    for role in ("tftp", "tvs"):
        lab.cluster.regenerate_certificate(role)
        lab.cluster.restart_service("tftp")
        trusting(lab, phones, after=lab.reset_all())

def test_2_next_cluster_is_trusted_on_first_use(lab):
    trusting(lab, lab.plain_phones(), after=0)
'''


def test_unattended_hardware_run_with_manual_keypads_skips_what_needs_hands(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    with posing_rack(tmp_path, 82) as rack:
        result = rack.run(pytester, monkeypatch, UNATTENDED, "--phonelab-destructive", "-v",
                          keypad="manual")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*test_1_destructive*SKIPPED*", "*test_2_presses_keys*SKIPPED*",
                                 "*test_3_no_keys*PASSED*"])
    reason = ("SKIPPED*needs an operator: keys must be pressed by hand on SEP00000A000001, "
              "SEP00000A000002 (manual keypad)*--phonelab-interactive*")
    result.stdout.fnmatch_lines([reason, reason])
    assert "LabError" not in result.stdout.str()


def test_destructive_test_on_hardware_is_followed_by_key_recovery(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    with posing_rack(tmp_path, 81) as rack:
        result = rack.run(pytester, monkeypatch, RECOVERY, "--phonelab-destructive")
        erased = [str(e.phone) for e in rack.twin.events.since(0)
                  if e.kind == "phone.console_command" and e.data.get("command") == "erase itl"]
    result.assert_outcomes(passed=2)
    assert sorted(erased) == ["SEP00000A000001", "SEP00000A000002"]
    assert "PhoneLeftOut" not in result.stdout.str()


def _twin_lab(directory: Path, octet: int, keypad: str) -> Path:
    path = isolated_twin_lab(directory, octet)
    document = yaml.safe_load(path.read_text())
    for rack in document["racks"]:
        for phone in rack["phones"]:
            phone["keypad"] = keypad
    path.write_text(yaml.safe_dump(document))
    return path


def _testcases(pytester: pytest.Pytester, octet: int, keypad: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        str(ROOT / "testcases" / "test_first_boot.py"),
        str(ROOT / "testcases" / "test_ordering_hazard.py"),
        "-k", "first_itl_is_trusted or manual_itl_erase or both_certificates_at_once",
        "-p", "no:randomly", "-v", f"--rootdir={ROOT}", "-c", str(ROOT / "pytest.ini"),
        "--lab", str(_twin_lab(pytester.path, octet, keypad)),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=180)


def test_key_pressing_testcases_skip_on_manual_keypads_without_an_operator(
    pytester: pytest.Pytester,
) -> None:
    result = _testcases(pytester, 84, "manual")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*test_first_itl_is_trusted*SKIPPED*",
                                 "*test_manual_itl_erase*SKIPPED*",
                                 "SKIPPED*needs an operator:*manual keypad*",
                                 "SKIPPED*needs an operator:*manual keypad*"])


def test_the_same_testcases_run_with_the_twins_console_keypad(pytester: pytest.Pytester) -> None:
    _testcases(pytester, 85, "console").assert_outcomes(passed=3)


LEFT_OUT = '''
import pytest
from fixtures.expect import settle

@pytest.mark.destructive
def test_1_destructive(lab):
    settle(lab)

def test_2_rack_goes_on_without_the_phone(lab):
    assert set(lab.phones) == {"SEP00000A000001"}
    settle(lab)
'''


def test_a_phone_recovery_cannot_put_back_is_left_out_and_dark_not_an_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """The operator erases the first phone's trust lists (it has no console to confirm on)
    and declines the second: the second is out of service (typed, with the reason),
    powered off, and left out of the next test, which runs on the rest of the rack."""
    with posing_rack(tmp_path, 87) as rack:
        result = rack.run(pytester, monkeypatch, LEFT_OUT, "--phonelab-destructive",
                          "--phonelab-interactive", "-s", keypad="manual",
                          no_console=("SEP00000A000001",), stdin=b"y\ny\nn\n")
        port = rack.twin.switches["sw1"].find_port("Gi1/0/2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*PhoneLeftOut: rack rack-a: SEP00000A000002 is out of service: "
                                 "could not erase its trust lists after a destructive test: "
                                 "operator did not confirm*"])
    assert port is not None and port.admin_poe == "never" and port.oper == "off"
