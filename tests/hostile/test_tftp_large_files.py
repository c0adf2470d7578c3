"""Finding 2: requests for a large load file must not each hold the file in memory.

100 RRQs (3 KB of traffic) for a 20 MiB file once took the server to 2.05 GB: every
request read the whole file and kept it for its transfer. Now the file is read by
block from one shared descriptor; the requests stall unacknowledged while a phone
fetches its small file.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from harness.events import EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import DirectorySource
from tests.hostile.attack_support import PHONE_TIMEOUT, fd_count, rss_mb, tftp_get

LOAD_MIB = 20
REQUESTS = 100
RSS_BOUND_MB = 60  # growth over the baseline while all requests are live


def test_many_requests_for_a_large_load_keep_memory_bounded(
        tmp_path: Path, events: EventLog, figures: Callable[..., None]) -> None:
    (tmp_path / "SCCP70.8-5-4S.sbn").write_bytes(os.urandom(LOAD_MIB << 20))
    (tmp_path / "SEP001122334455.cnf.xml").write_bytes(b"<device/>" * 50)
    with TftpEndpoint(DirectorySource(tmp_path), events) as server:
        rss_before, fds_before = rss_mb(), fd_count()
        clients = []
        try:
            for _ in range(REQUESTS):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                sock.sendto(b"\x00\x01SCCP70.8-5-4S.sbn\x00octet\x00blksize\x001428\x00",
                            server.address)
                clients.append(sock)
            deadline = time.monotonic() + 5  # every request has its first block out
            for sock in clients:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                assert sock.recv(2048)[:2] in (b"\x00\x03", b"\x00\x06")  # DATA or OACK
            started = time.monotonic()
            tftp_get(server.address, "SEP001122334455.cnf.xml", b"<device/>" * 50)
            took = time.monotonic() - started
            grown, fds = rss_mb() - rss_before, fd_count() - fds_before
        finally:
            for sock in clients:
                sock.close()
    figures("finding 2", rrqs=REQUESTS, load_mib=LOAD_MIB, rss_growth_mb=grown,
            server_fds_growth=fds - REQUESTS, small_file_s=took)
    assert took < PHONE_TIMEOUT / 2, took
    assert grown < RSS_BOUND_MB, f"RSS grew {grown:.1f} MB for {REQUESTS} requests"
    # our 100 client sockets, 100 transfer sockets, and one shared descriptor for the file
    assert fds - REQUESTS <= REQUESTS + 5, fds
