"""`phonelab tftp serve` as a user runs it: the installed script, real UDP, real signals."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import tftpy

PHONELAB = Path(sys.executable).with_name("phonelab")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONELAB), "tftp", "serve", *args], capture_output=True,
                          text=True, timeout=30)


def read_line(proc: subprocess.Popen[str], timeout: float = 15.0) -> str:
    """The next stdout line, or fail after `timeout` (readline alone could hang the suite)."""
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines, f"no output from phonelab within {timeout} s"
    return lines[0]


def test_missing_root_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run("--root", str(tmp_path / "absent"), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"phonelab: TFTP root {tmp_path / 'absent'} is not a directory"]


def test_busy_port_is_one_line_suggesting_port_and_exit_3(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        result = run("--root", str(tmp_path), "--port", str(holder.getsockname()[1]))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Address already in use" in lines[0] and "--port" in lines[0]


def test_default_port_69_failure_is_exit_3_with_a_hint(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        if os.geteuid() == 0:  # root may bind 69, so make it busy: the bind fails either way
            holder = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            with contextlib.suppress(OSError):
                holder.bind(("127.0.0.1", 69))
        result = run("--root", str(tmp_path))  # no --port: 69
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ports below 1024 need root" in result.stderr and "--port 6969" in result.stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_requests_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    (tmp_path / "SEP001122334455.cnf.xml").write_bytes(b"<device/>")
    (tmp_path / "tftp.key").write_bytes(b"not for phones")
    port = free_udp_port()
    proc = subprocess.Popen([str(PHONELAB), "tftp", "serve", "--root", str(tmp_path),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert f"on 127.0.0.1:{port}" in read_line(proc)
        out = io.BytesIO()
        tftpy.TftpClient("127.0.0.1", port).download("SEP001122334455.cnf.xml", out, timeout=2)
        assert out.getvalue() == b"<device/>"
        assert "ok" in (line := read_line(proc)) and "SEP001122334455.cnf.xml 9 B" in line
        with pytest.raises(tftpy.TftpShared.TftpException):
            tftpy.TftpClient("127.0.0.1", port).download("tftp.key", io.BytesIO(), timeout=2)
        assert "denied" in read_line(proc)
        proc.send_signal(stop_signal)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped after 2 requests" in stdout
    assert stderr == ""


def test_bursts_of_signals_always_stop_the_server(tmp_path: Path) -> None:
    """Five SIGTERMs at once used to deadlock the stop (Event.set inside a handler)."""
    for _ in range(5):
        port = free_udp_port()
        proc = subprocess.Popen([str(PHONELAB), "tftp", "serve", "--root", str(tmp_path),
                                 "--port", str(port)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert f"on 127.0.0.1:{port}" in read_line(proc)
            for _ in range(5):
                proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=10)
        finally:
            proc.kill()
        assert proc.returncode == 0, stderr
        assert "stopped after 0 requests" in stdout
