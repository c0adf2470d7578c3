"""`phonelab firmware make-example|show` as a user runs them (the installed script)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PHONELAB = Path(sys.executable).with_name("phonelab")
LOAD = "SIP42.9-4-2SR3-1S"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(PHONELAB), "firmware", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_make_example_then_show_verifies_every_file(tmp_path: Path) -> None:
    made = run("make-example", str(tmp_path / "fw"), "--model", "CP-7962G", "--load", LOAD)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "fw" / f"{LOAD}.loads").is_file()
    assert (tmp_path / "fw" / "term62.default.loads").is_file()
    shown = run("show", str(tmp_path / "fw"), "--load", LOAD)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.count("lab key ok") == 6


def test_show_flags_a_missing_or_tampered_image(tmp_path: Path) -> None:
    assert run("make-example", str(tmp_path), "--load", LOAD).returncode == 0
    images = sorted(tmp_path.glob("*.sbn"))
    images[0].unlink()
    data = bytearray(images[1].read_bytes())
    data[-1] ^= 1
    images[1].write_bytes(bytes(data))
    shown = run("show", str(tmp_path), "--load", LOAD)
    assert shown.returncode == 1
    assert "missing" in shown.stdout and "not signed by the lab key" in shown.stdout


def test_user_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (("show", str(tmp_path / "none"), "--load", LOAD),
                 ("make-example", str(tmp_path), "--model", "1234"),
                 ("make-example", str(tmp_path), "--load", "../x")):
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("phonelab: ") and result.stderr.count("\n") == 1
