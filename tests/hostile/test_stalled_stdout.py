"""A server whose stdout nobody reads keeps serving phones (`phonelab tftp serve | less`).

Listeners used to print on the endpoint's own thread; once the pipe filled (64 KiB,
about 800 request lines) the TFTP loop blocked in write() and phones timed out.
"""

from __future__ import annotations

import io
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import tftpy

PHONELAB = Path(sys.executable).with_name("phonelab")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tftp_keeps_serving_while_stdout_is_not_read(
        tmp_path: Path, figures: Callable[..., None]) -> None:
    (tmp_path / "ITLFile.tlv").write_bytes(b"itl" * 100)
    port = _free_udp_port()
    proc = subprocess.Popen([str(PHONELAB), "tftp", "serve", "--root", str(tmp_path),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "server did not start"
        os.read(proc.stdout.fileno(), 4096)  # the start-up line; from now on nobody reads
        garbage = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(3000):  # ~3000 refusal lines: far more than a pipe holds
            garbage.sendto(b"\x00\x01" + f"missing-{i}.bin".encode() + b"\x00octet\x00",
                           ("127.0.0.1", port))
            if i % 200 == 0:
                time.sleep(0.02)
        garbage.close()
        started = time.monotonic()
        out = io.BytesIO()
        tftpy.TftpClient("127.0.0.1", port).download("ITLFile.tlv", out, timeout=2)
        took = time.monotonic() - started
        assert out.getvalue() == b"itl" * 100
        figures("finding 12 stdout", refusals=3000, itl_s=took)
        assert took < 3.0, took
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=10)  # reading now drains the queue; it must still stop
        finally:
            proc.kill()
    assert proc.returncode == 0
