"""Every user mistake on the command line is one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PHONELAB = Path(sys.executable).with_name("phonelab")

MISTAKES = [
    (["tvs", "serve", "--cert", "c.pem", "--port", "70000"], "70000 is not a port"),
    (["tvs", "serve", "--cert", "c.pem", "--port", "-1"], "-1 is not a port"),
    (["capf", "serve", "--cert", "c.pem", "--device", "x", "--port", "65536"], "not a port"),
    (["capf", "serve", "--cert", "c.pem", "--device", "x", "--days", "0"], "0 days"),
    (["capf", "serve", "--cert", "c.pem", "--device", "x", "--days", "-1"], "-1 days"),
    (["capf", "serve", "--cert", "c.pem", "--device", "x", "--timeout", "0"], "duration"),
    (["capf", "serve", "--cert", "c.pem", "--device", "x", "--timeout", "nan"], "nan is not"),
    (["capf", "serve", "--cert", "c.pem", "--device", "x", "--timeout", "-1"], "duration"),
    (["capf", "enroll", "--host", "h", "--capf-cert", "c", "--device", "d", "-o", "o",
      "--timeout", "inf"], "inf is not"),
    (["tvs", "query", "c.pem", "--host", "h", "--tvs-cert", "c", "--timeout", "nan"],
     "nan is not"),
    (["tftp", "serve", "--root", ".", "--port", "99999"], "99999 is not a port"),
    (["tvs", "serve"], "Missing option '--cert'"),
    (["tvs", "bogus"], "No such command 'bogus'"),
    (["twin", "up", "--phones", "0"], "at least one phone"),
    (["twin", "up", "--phones", "-1"], "at least one phone"),
    (["twin", "up", "--phones", "5000000"], "do not fit on this host"),
    (["preflight", "--tftp", "127.0.0.1", "--plan", "regenerate-everything", "--default-only"],
     "unknown step 'regenerate-everything'"),
    (["preflight", "--tftp", "127.0.0.1", "--plan", ","], "names no step"),
    (["preflight", "--tftp", "127.0.0.1", "--plan", "reset-phones"], "name the phones"),
    (["preflight", "--tftp", "127.0.0.1", "--plan", "reset-phones", "--phones", "SEP12"],
     "SEP followed by 12 hex digits"),
    (["preflight", "--tftp", "host:99999", "--plan", "reset-phones", "--default-only"],
     "not HOST[:PORT]"),
    (["preflight", "--tftp", "h", "--plan", "reset-phones", "--phones-file", "/nonexistent"],
     "cannot read it"),
    (["tvs", "serve", "--cert", "c.pem", "--port", "abc"], "Invalid value for '--port'"),
]


@pytest.mark.parametrize(("argv", "says"), MISTAKES, ids=[" ".join(m[0]) for m in MISTAKES])
def test_mistake_is_one_line_and_exit_2(argv: list[str], says: str, tmp_path: Path) -> None:
    result = subprocess.run([str(PHONELAB), *argv], capture_output=True, text=True,
                            timeout=30, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("phonelab: ") and says in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_twin_capacity_is_read_from_the_host() -> None:
    import resource

    from phone_drivers.emulator.capacity import FDS_BASE, FDS_PER_PHONE, twin_capacity

    capacity = twin_capacity(consoles=False)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert capacity.max_phones == max(0, (soft - FDS_BASE) // FDS_PER_PHONE)
    assert "open files" in capacity.limited_by
    with_ptys = twin_capacity(consoles=True)
    assert with_ptys.max_phones <= capacity.max_phones


def test_version_is_printed() -> None:
    result = subprocess.run([str(PHONELAB), "--version"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("phonelab ")
