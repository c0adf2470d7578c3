"""Two suite runs on one host never meet: proved by two runs holding one rack at once.

`scripts/test.sh` runs the suites through `scripts/isolated`. Two such runs are
started together here, each on the default twin topology (the same lab, rack,
node and phone addresses, so the same capture filters). Each run's test brings its
rack up, writes down what it holds, and then waits until the other run holds its
own rack too. Both get there only if neither run's lease, sockets or PKI stood in
the other's way: sharing the lease directory alone makes the second run wait for
the first, which waits for the second, until the bound fails them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ISOLATED = ROOT / "scripts" / "isolated"

HOLDER = '''
import json, os, time
from pathlib import Path


def test_hold_the_rack_while_the_other_run_holds_it(lab):
    shared = Path(os.environ["PARALLEL_SHARED"])
    me, other = os.environ["PARALLEL_ME"], os.environ["PARALLEL_OTHER"]
    leases = Path(os.environ["PHONELAB_LEASES"])
    record = {
        "netns": os.readlink("/proc/self/ns/net"),
        "leases": str(leases),
        "lease_files": sorted(p.name for p in leases.glob("*.lease")),
        "data": os.environ["PHONELAB_DATA"],
        "endpoints": sorted(f"{s.value}@{e.address[0]}:{e.address[1]}"
                            for (s, _), e in lab.cluster.plane.endpoints.items() if e.running),
    }
    (shared / f"{me}.json").write_text(json.dumps(record))
    deadline = time.monotonic() + 90
    while not (shared / f"{other}.json").exists():
        assert time.monotonic() < deadline, "the other run never held its rack meanwhile"
        time.sleep(0.2)
'''


def _namespaces_allowed() -> bool:
    for probe in (["unshare", "--net", "true"], ["unshare", "--map-root-user", "--net", "true"]):
        try:
            if subprocess.run(probe, capture_output=True, timeout=10).returncode == 0:
                return True
        except (OSError, subprocess.TimeoutExpired):
            return False
    return False


@pytest.mark.timeout(240)
def test_two_runs_hold_the_same_rack_at_once_without_meeting(tmp_path: Path) -> None:
    if not _namespaces_allowed():
        pytest.skip("this host does not let us create a network namespace")
    (tmp_path / "test_holder.py").write_text(HOLDER)
    shared = tmp_path / "shared"
    shared.mkdir()
    runs = {}
    for me, other in (("one", "two"), ("two", "one")):
        env = {**os.environ, "PARALLEL_SHARED": str(shared), "PARALLEL_ME": me,
               "PARALLEL_OTHER": other}
        for name in ("PHONELAB_DATA", "PHONELAB_LEASES"):  # the wrapper sets its own
            env.pop(name, None)
        runs[me] = subprocess.Popen(
            [str(ISOLATED), sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-p", "no:xdist", f"--phonelab-log-dir={tmp_path / me}", "test_holder.py"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = {me: run.communicate(timeout=200)[0] for me, run in runs.items()}
    for me, run in runs.items():
        assert run.returncode == 0, f"run {me} failed:\n{outputs[me][-3000:]}"
    one, two = (json.loads((shared / f"{me}.json").read_text()) for me in ("one", "two"))
    assert one["netns"] != two["netns"]  # loopbacks of their own ...
    hosts = [{e.rsplit(":", 1)[0] for e in run["endpoints"]} for run in (one, two)]
    assert hosts[0] == hosts[1] and "tftp@127.0.1.1" in hosts[0]  # ... the same addresses
    assert one["leases"] != two["leases"] and one["data"] != two["data"]
    assert one["lease_files"] and one["lease_files"] == two["lease_files"]  # same rack, each
    assert not Path(one["leases"]).exists()  # the wrapper leaves nothing behind


def test_the_wrapper_needs_a_command() -> None:
    result = subprocess.run([str(ISOLATED)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2 and result.stderr.startswith("usage: scripts/isolated")


def test_the_wrapper_passes_the_exit_status_and_private_directories(tmp_path: Path) -> None:
    script = 'echo "$PHONELAB_DATA $PHONELAB_LEASES"; test -d "$PHONELAB_LEASES"; exit 7'
    result = subprocess.run([str(ISOLATED), "sh", "-c", script], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 7
    data, leases = result.stdout.split()
    assert Path(data).parent == Path(leases).parent
    assert not Path(data).parent.exists()  # removed on exit
