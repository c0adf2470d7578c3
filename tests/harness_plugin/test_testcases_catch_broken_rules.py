"""Tests of the tests: a lab scenario must fail when the rule it guards is broken.

Each case runs a real testcase in a pytest subprocess with one firmware rule broken
by a tiny plugin: it must fail in its body (not in bring-up). The same testcase as
shipped passes in this very suite (`testcases/`), so it is not run again here.
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
    # issue 16: a rollback ITL unlocks unsigned configs even while a CTL is held
    "rollback_beats_ctl": "import phone_drivers.emulator.trust_state as s\n"
                          "s.PhoneState.accepts_unsigned = property(\n"
                          "    lambda self: self.itl is not None and self.itl.is_rollback)\n",
    # the stub's certHash no longer selects the key: every own key is tried
    "any_cert_hash": "import phone_drivers.emulator.firmware_config as c\n"
                     "c._own_keys = lambda state, wanted: [k for k in (state.lsc, "
                     "state.identity.mic) if k is not None]\n",
    # the .enc.sgn plaintext digest is not checked
    "no_plain_digest": "import harness.formats.enc as e\n"
                       "e.hmac = type('H', (), {'compare_digest': staticmethod("
                       "lambda a, b: True)})\n",
    # a TVS answer counts whatever role it carries
    "tvs_any_role": "import phone_drivers.emulator.firmware_tvs as t\n"
                    "t._with_roles = lambda ask, cert, roles, basis: t.Vouched(cert, basis)\n",
    # TVS answers "valid" (no role) for certificates it does not know
    "tvs_valid_unknown": "import harness.services.tvs as v\n"
                         "from cryptography import x509\n"
                         "from harness.services.truststore import TrustEntry\n"
                         "v.TvsEndpoint._verify = lambda self, r: (TrustEntry("
                         "x509.load_der_x509_certificate(r.certificate), frozenset(), 60), '')\n",
    # the phone never (or always) considers itself stranded
    "never_stranded": "import phone_drivers.emulator.firmware as f\n"
                      "f.Firmware.is_stranded = property(lambda self: False)\n",
    "always_stranded": "import phone_drivers.emulator.firmware as f\n"
                       "f.Firmware.is_stranded = property(lambda self: True)\n",
    # a first CTL is never vouched for by the ITL (only TVS could)
    "ctl_not_from_itl": "import phone_drivers.emulator.firmware_trust as t\n"
                        "basis = t.ctl_local_basis\n"
                        "t.ctl_local_basis = lambda s, c: None if s.ctl is None and s.itl is not "
                        "None and not s.itl.is_rollback else basis(s, c)\n",
    # any ITL record, whatever its role, vouches for a CTL signer
    "ctl_any_itl_role": "import phone_drivers.emulator.firmware_trust as t\n"
                        "t._SIGNING = None\n",
}


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, testcase: str,
        selector: str, breaker: str) -> pytest.RunResult:
    args = [str(ROOT / "testcases" / testcase), "-k", selector, "-q", "-p", "no:randomly",
            f"--rootdir={ROOT}", "-c", str(ROOT / "pytest.ini"),
            "--lab", str(isolated_twin_lab(pytester.path, 62)),
            "--phonelab-lease-dir", str(pytester.path / "leases"),
            "--phonelab-log-dir", str(pytester.path / "logs")]
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
    ("test_trust_rules.py", "ctl_keeps_demanding", "rollback_beats_ctl"),
    ("test_trust_rules.py", "public_key_mismatch", "any_cert_hash"),
    ("test_trust_rules.py", "wrong_digest", "no_plain_digest"),
    ("test_trust_rules.py", "another_role", "tvs_any_role"),
    ("test_trust_rules.py", "unknown_to_tvs", "tvs_valid_unknown"),
    ("test_trust_rules.py", "report_themselves_stranded", "never_stranded"),
    ("test_trust_rules.py", "does_not_strand", "always_stranded"),
    ("test_trust_rules.py", "itl_tftp_key_needs_no_tvs", "ctl_not_from_itl"),
    ("test_trust_rules.py", "capf_key_is_rejected", "ctl_any_itl_role"),
])
def test_negative_path_fails_when_its_rule_is_broken(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    testcase: str, selector: str, breaker: str,
) -> None:
    broken = run(pytester, monkeypatch, testcase, selector, breaker)
    broken.assert_outcomes(failed=1)  # exactly the one selected scenario, failed, no error
    assert "RackBroken" not in broken.stdout.str(), "the lab broke: no proof about the rule"
