"""A rack whose power or console dies is latched out of service: later tests skip."""

from __future__ import annotations

import pytest

from tests.isolated_lab import isolated_twin_lab

SCENARIO = '''
from harness.errors import LabError

def test_1_power_dies(lab):
    raise LabError("power control failed: switch unreachable")

def test_2_later_test_on_the_same_rack(lab):
    raise AssertionError("must not run on a rack latched broken")

def test_3_phone_failure_does_not_latch():
    pass
'''


def test_lab_error_on_a_wire_latches_the_rack(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_latch=SCENARIO)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}", "-rs",
        "--lab", str(isolated_twin_lab(pytester.path, 67)),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=120)
    result.assert_outcomes(failed=1, skipped=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*rack rack1 is out of service: power control failed: switch unreachable*"])


def test_an_assertion_about_the_phone_does_not_latch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_latch='''
def test_1_phone_misbehaves(lab):
    raise AssertionError("phone rejected its config")

def test_2_still_runs(lab):
    pass
''')
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}",
        "--lab", str(isolated_twin_lab(pytester.path, 68)),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=120)
    result.assert_outcomes(failed=1, passed=1)
