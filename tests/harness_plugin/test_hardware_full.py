"""The whole testcase suite on the hardware backend, unattended, keys by CGI.

Twin phones pose as a rack's real phones behind a `backend: hardware` topology
(`posing.py`): the plugin runs its own cluster, powers the phones over netmiko,
reads their consoles by URL, and presses keys only through `/CGI/Execute`; the
run has no operator, and destructive tests are allowed, so the backend's recovery
(erase CTL/ITL by CGI keys, then power) runs between them. Several minutes, so it
runs only with PHONELAB_LONG_TESTS=1:
    PHONELAB_LONG_TESTS=1 .venv/bin/pytest tests/harness_plugin/test_hardware_full.py -s
(PHONELAB_SELECT passes a `-k` expression to the inner run.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from tests.harness_plugin.posing import posing_rack

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.environ.get("PHONELAB_LONG_TESTS") != "1",
                                reason="several minutes; set PHONELAB_LONG_TESTS=1 to run it")


@pytest.mark.timeout(3600)
def test_every_testcase_runs_on_the_hardware_backend_with_cgi_keys_unattended(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with posing_rack(tmp_path, 77) as rack:
        where = rack.twin.describe()
        topology = rack.topology(keypad="cgi", addresses=True)
        topology["racks"][0]["cgi"] = {"username_env": "RACK_A_CGI_USER",
                                       "password_env": "RACK_A_CGI_PASSWORD"}
        (pytester.path / "rack.yaml").write_text(yaml.safe_dump(topology))
        monkeypatch.setenv("RACK_A_USER", where["switch"]["username"])
        monkeypatch.setenv("RACK_A_PASSWORD", where["switch"]["password"])
        monkeypatch.setenv("RACK_A_CGI_USER", "labkeys")
        monkeypatch.setenv("RACK_A_CGI_PASSWORD", "a-rack-secret")
        started = time.monotonic()
        result = pytester.runpytest_subprocess(
            str(ROOT / "testcases"), "-p", "no:randomly", f"--rootdir={ROOT}", "-rs",
            "--lab", str(pytester.path / "rack.yaml"), "--phonelab-destructive",
            "--phonelab-pki-dir", str(pytester.path / "pki"),
            "--phonelab-lease-dir", str(pytester.path / "leases"),
            "--phonelab-log-dir", str(pytester.path / "logs"),
            *(["-k", os.environ["PHONELAB_SELECT"]] if os.environ.get("PHONELAB_SELECT") else []),
            timeout=3400)
        took = time.monotonic() - started
    outcomes = result.parseoutcomes()
    print(f"hardware backend, CGI keys, unattended: {outcomes} in {took:.0f} s")
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, outcomes
    assert outcomes.get("passed", 0) >= (1 if os.environ.get("PHONELAB_SELECT") else 25), outcomes
    assert "Manual" not in result.stdout.str() and "OperatorNeeded" not in result.stdout.str()
