"""A rack whose power, console or switch dies is latched out of service: later tests skip.

The latch rests on the driver's typed error (`RackBroken`, with the part that
failed), never on words in a message: a plain `LabError` that merely mentions
power or a console is one broken test, and the rack keeps serving.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness_plugin.posing import posing_rack
from tests.isolated_lab import isolated_twin_lab

SCENARIO = '''
from harness.errors import RackBroken

def test_1_power_dies(lab):
    raise RackBroken("power", "Gi1/0/1 still oper faulty after `power inline auto`")

def test_2_later_test_on_the_same_rack(lab):
    raise AssertionError("must not run on a rack latched broken")

def test_3_phone_failure_does_not_latch():
    pass
'''


def run(pytester: pytest.Pytester, octet: int) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}", "-rs",
        "--lab", str(isolated_twin_lab(pytester.path, octet)),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=120)


def test_a_typed_wire_failure_latches_the_rack(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_latch=SCENARIO)
    result = run(pytester, 67)
    result.assert_outcomes(failed=1, skipped=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*rack rack1 is out of service: power: Gi1/0/1 still oper faulty*"])


def test_an_untyped_lab_error_does_not_latch_whatever_it_says(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_latch='''
from harness.errors import LabError

def test_1_words_only(lab):
    raise LabError("power control failed: switch unreachable, console serial gone")

def test_2_still_runs(lab):
    pass
''')
    run(pytester, 86).assert_outcomes(failed=1, passed=1)


def test_an_assertion_about_the_phone_does_not_latch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_latch='''
def test_1_phone_misbehaves(lab):
    raise AssertionError("phone rejected its config")

def test_2_still_runs(lab):
    pass
''')
    run(pytester, 68).assert_outcomes(failed=1, passed=1)


def test_a_dead_switch_latches_the_hardware_rack_at_bring_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """The switch's SSH is gone: powering the phones on at bring-up raises RackBroken
    ("switch") from the PoE driver; the test errors and the rest of the rack skips."""
    with posing_rack(tmp_path, 83) as rack:
        rack.twin.switches["sw1"].stop()
        result = rack.run(pytester, monkeypatch, '''
def test_1_first(lab):
    pass

def test_2_second(lab):
    raise AssertionError("must not run on a rack latched broken")
''')
    result.assert_outcomes(errors=1, skipped=1)
    result.stdout.fnmatch_lines(["*RackBroken*unreachable*",
                                 "*rack rack-a is out of service: switch: switch 127.0.0.1:*"
                                 " unreachable after 3 attempt(s)*"])
