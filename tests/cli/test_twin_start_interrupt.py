"""A large `twin up` shows progress while it starts and stops at once on Ctrl-C.

Making hundreds of phones (ptys, web servers, MICs) takes a while; a user who
pressed Ctrl-C used to wait for every phone to be made first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PHONELAB = Path(sys.executable).with_name("phonelab")


@pytest.mark.timeout(120)
def test_ctrl_c_while_starting_stops_within_seconds_and_says_so(tmp_path: Path) -> None:
    run = subprocess.Popen([str(PHONELAB), "twin", "up", "--phones", "300",
                            "--workdir", str(tmp_path / "twin")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PHONELAB_RUN_DIR": str(tmp_path / "run")})
    assert run.stderr is not None
    deadline, line = time.monotonic() + 90, ""
    while time.monotonic() < deadline and "starting the twin:" not in line:
        line = run.stderr.readline()
        if not line and run.poll() is not None:
            break
    assert "starting the twin:" in line and "/300 phones" in line, line
    run.send_signal(signal.SIGINT)
    asked = time.monotonic()
    out, err = run.communicate(timeout=60)
    assert time.monotonic() - asked < 15, "Ctrl-C waited for the whole start"
    assert run.returncode == 130, (run.returncode, err)
    assert "stopped while starting" in err and "Traceback" not in err + out
