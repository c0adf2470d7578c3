"""A realistic-profile scenario that waits almost the documented 5 minutes is not killed.

Slow by nature (about 5 minutes), so it runs only when PHONELAB_LONG_TESTS=1; run it
after changing time limits or waits:
    PHONELAB_LONG_TESTS=1 .venv/bin/pytest tests/harness_plugin/test_long_wait.py
"""

from __future__ import annotations

import os
import time

import pytest

from tests.isolated_lab import isolated_twin_lab

pytestmark = pytest.mark.skipif(os.environ.get("PHONELAB_LONG_TESTS") != "1",
                                reason="about 5 minutes; set PHONELAB_LONG_TESTS=1 to run it")

SLOW_REBUILD = '''
import threading
import time

def test_tftp_rebuild_after_290_seconds(lab):
    mark = lab.events.mark()
    threading.Timer(290, lambda: lab.events.record("tftp.rebuilt", source="tftp@slow")).start()
    started = time.monotonic()
    lab.wait_tftp_rebuilt(after=mark)  # realistic bound: 300 s
    print(f"WAITED {time.monotonic() - started:.0f}")
'''


@pytest.mark.timeout(900)
def test_a_290_second_wait_survives_the_time_limit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_slow=SLOW_REBUILD)
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}", "-s", "--phonelab-profile",
        "realistic", "--lab", str(isolated_twin_lab(pytester.path, 70)),
        "--phonelab-lease-dir", str(pytester.path / "leases"), timeout=800)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*WAITED 29*"])
    print(f"long wait test took {time.monotonic() - started:.0f} s")
