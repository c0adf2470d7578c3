"""TFTP serves large files by block: one shared open file per version, no whole reads.

A `DirectorySource` hands the endpoint a `FileBody` for files above `SMALL_FILE`;
every transfer of the same file version shares it; a changed file is a new
version; a key hidden deep in a large file is still refused; a file truncated
under a transfer reads short instead of crashing the server.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import tftpy

from harness.events import EventLog
from harness.services import tftp_files
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import DirectorySource, FileBody, NameDenied

BIG = tftp_files.SMALL_FILE * 4 + 123


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_large_files_are_shared_bodies_and_small_ones_bytes(tmp_path: Path) -> None:
    (tmp_path / "small.cnf.xml").write_bytes(b"x" * 100)
    (tmp_path / "load.sbn").write_bytes(os.urandom(BIG))
    files = DirectorySource(tmp_path)
    assert files.open("small.cnf.xml") == b"x" * 100
    before = _fds()
    bodies = [files.open("load.sbn") for _ in range(100)]
    assert all(isinstance(body, FileBody) for body in bodies)
    assert len({id(body) for body in bodies}) == 1  # one open file for every transfer
    assert _fds() - before <= 1
    body = bodies[0]
    assert body is not None and len(body) == BIG
    assert body[0:BIG] == (tmp_path / "load.sbn").read_bytes()
    assert files.lookup("load.sbn") == (tmp_path / "load.sbn").read_bytes()  # whole, for callers


def test_a_changed_file_is_a_new_version_and_old_transfers_keep_theirs(tmp_path: Path) -> None:
    path = tmp_path / "load.sbn"
    path.write_bytes(b"a" * BIG)
    files = DirectorySource(tmp_path)
    old = files.open("load.sbn")
    replacement = tmp_path / "new.tmp"
    replacement.write_bytes(b"b" * (BIG + 1))
    replacement.replace(path)  # as a firmware copy lands: rename over
    new = files.open("load.sbn")
    assert old is not None and new is not None and new is not old
    assert old[0:4] == b"aaaa" and len(old) == BIG
    assert new[0:4] == b"bbbb" and len(new) == BIG + 1


def test_truncated_under_a_transfer_reads_short(tmp_path: Path) -> None:
    path = tmp_path / "load.sbn"
    path.write_bytes(b"z" * BIG)
    body = DirectorySource(tmp_path).open("load.sbn")
    assert body is not None
    os.truncate(path, 10)
    assert body[0:512] == b"z" * 10
    assert body[4096:4608] == b""


@pytest.mark.parametrize("where", [0, tftp_files._SCAN_CHUNK - 8, BIG - 40])
def test_a_key_anywhere_in_a_large_file_is_refused(tmp_path: Path, where: int) -> None:
    data = bytearray(os.urandom(max(BIG, tftp_files._SCAN_CHUNK + 4096)))
    marker = b"-----BEGIN PRIVATE KEY-----"
    data[where:where + len(marker)] = marker
    (tmp_path / "bundle.bin").write_bytes(bytes(data))
    files = DirectorySource(tmp_path)
    with pytest.raises(NameDenied, match="private key"):
        files.open("bundle.bin")
    with pytest.raises(NameDenied):
        tftp_files.fetch(files, "bundle.bin")


def test_a_large_file_downloads_whole_over_tftp(tmp_path: Path, events: EventLog) -> None:
    data = os.urandom(BIG)
    (tmp_path / "load.sbn").write_bytes(data)
    with TftpEndpoint(DirectorySource(tmp_path), events) as server:
        out = io.BytesIO()
        tftpy.TftpClient(*server.address, options={"blksize": 1428}).download(
            "load.sbn", out, timeout=2)
    assert out.getvalue() == data
    [event] = events.of_kind("tftp.rrq")
    assert event.data["result"] == "ok" and event.data["bytes"] == BIG
