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
