"""scripts/mutation.sh refuses a bad setting with one line on stderr and exit 2, before it
copies anything or starts mutmut (a wrong module name must not cost a stats run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mutation.sh"


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MUTATION_WORK": str(tmp_path / "work"),
                               "PYTHON": sys.executable, "MUTATION_TREE": "worktree", **env})


@pytest.mark.parametrize(("setting", "value", "words"), [
    ("MUTATION_MODULES", "phone_drivers/emulator/no_such_module.py", "no source file"),
    ("MUTATION_MODULES", "docs/mutation.md", "no source file"),
    ("MUTATION_JOBS", "0", "MUTATION_JOBS"),
    ("MUTATION_JOBS", "two", "MUTATION_JOBS"),
    ("MUTATION_OCTET", "300", "MUTATION_OCTET"),
    ("MUTATION_TREE", "no-such-commit", "MUTATION_TREE"),
    ("MUTATION_PASS1_MINUTES", "1.5", "MINUTES"),
    ("MUTATION_PASS2_MINUTES", "soon", "MINUTES"),
    ("MUTATION_RESUME", "1", "no run to continue"),
])
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path, setting: str, value: str,
                                              words: str) -> None:
    result = run(tmp_path, **{setting: value})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "work").exists(), "nothing is prepared for a refused run"


def test_the_configured_modules_exist() -> None:
    """Every module setup.cfg names for mutation is a source file of this tree."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    modules = config["mutmut"]["only_mutate"].split()
    assert modules, "setup.cfg [mutmut] names no module"
    missing = [m for m in modules if not (ROOT / m).is_file()]
    assert not missing, f"setup.cfg [mutmut] only_mutate names missing files: {missing}"
