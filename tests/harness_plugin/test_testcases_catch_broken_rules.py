"""Tests of the tests: a lab scenario must fail when the rule it guards is broken.

Each case runs a real testcase in a pytest subprocess twice: as shipped (it
passes) and with one firmware rule broken by a tiny plugin (it must fail).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.isolated_lab import isolated_twin_lab

ROOT = Path(__file__).resolve().parents[2]
BREAKERS = {
    # accept any ITL, whatever signed it: the ordering hazard can no longer strand phones
    "any_itl": "import phone_drivers.emulator.firmware_trust as t\n"
               "t.itl_local_basis = lambda state, signer: 'broken: any ITL'\n",
    # forget the rollback ITL's "accept unsigned configs" rule
    "no_rollback_unsigned": "import phone_drivers.emulator.trust_state as s\n"
                            "s.PhoneState.accepts_unsigned = property(lambda self: False)\n",
}


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, testcase: str,
        selector: str, breaker: str | None) -> pytest.RunResult:
    args = [str(ROOT / "testcases" / testcase), "-k", selector, "-q", "-p", "no:randomly",
            f"--rootdir={ROOT}", "-c", str(ROOT / "pytest.ini"),
            "--lab", str(isolated_twin_lab(pytester.path, 62)),
            "--phonelab-lease-dir", str(pytester.path / "leases"),
            "--phonelab-log-dir", str(pytester.path / "logs")]
    if breaker:
        pytester.makepyfile(**{f"break_{breaker}": "def pytest_configure(config):\n"
                               + "".join(f"    {line}\n" for line in
                                         BREAKERS[breaker].splitlines())})
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(  # keep this checkout's path first
            p for p in (str(pytester.path), os.environ.get("PYTHONPATH", "")) if p))
        args += ["-p", f"break_{breaker}"]
    return pytester.runpytest_subprocess(*args, timeout=180)


@pytest.mark.parametrize(("testcase", "selector", "breaker"), [
    ("test_ordering_hazard.py", "both_certificates_at_once", "any_itl"),
    ("test_rollback.py", "https_services_fail", "no_rollback_unsigned"),
])
def test_negative_path_fails_when_its_rule_is_broken(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    testcase: str, selector: str, breaker: str,
) -> None:
    intact = run(pytester, monkeypatch, testcase, selector, None)
    intact.assert_outcomes(passed=1)
    broken = run(pytester, monkeypatch, testcase, selector, breaker)
    broken.assert_outcomes(failed=1)
