"""Encrypted backup and restore of the signing identities (docs/SECURITY_BY_DEFAULT.md §7):
exact restore after a crash, and every bad file refused with nothing changed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.errors import UsageError
from harness.pki import CertRole, LabPKI
from harness.pki.backup import HEADER, MAGIC

PASS = "correct horse battery staple"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Content and mode of every file under `root`, to prove nothing changed."""
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mode & 0o777)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _private_numbers(pki: LabPKI, node: str) -> rsa.RSAPrivateNumbers:
    key = pki.identity(CertRole.tftp, node).key
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.private_numbers()


def test_backup_is_private_and_opaque(pki: LabPKI, tmp_path: Path) -> None:
    path = tmp_path / "cluster.bak"
    saved = pki.backup(path, PASS)
    assert path.stat().st_mode & 0o777 == 0o600
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    key_pem = pki.identity(CertRole.tftp, "cucm1.lab").key_pem
    assert b"PRIVATE KEY" not in data and key_pem.splitlines()[5] not in data
    assert saved == [
        (CertRole.tftp, "cucm1.lab"),
        (CertRole.itlrecovery, "cucm1.lab"),
        (CertRole.tftp, "cucm2.lab"),
        (CertRole.itlrecovery, "cucm2.lab"),
        (CertRole.sast1, None),
        (CertRole.sast2, None),
    ]


def test_crash_then_restore_brings_back_the_same_key(
    pki: LabPKI, tmp_path: Path, good_backup: bytes
) -> None:
    before = pki.identity(CertRole.tftp, "cucm1.lab")
    numbers = _private_numbers(pki, "cucm1.lab")
    (tmp_path / "b").write_bytes(good_backup)
    pki.forget(CertRole.tftp, "cucm1.lab")
    restored = LabPKI.load(pki.root).restore(tmp_path / "b", PASS)
    assert (CertRole.tftp, "cucm1.lab") in restored
    after = pki.identity(CertRole.tftp, "cucm1.lab")
    assert after.serial == before.serial and after.der == before.der
    assert _private_numbers(pki, "cucm1.lab") == numbers
    key_file = pki.root / "nodes" / "cucm1.lab" / "tftp.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_restore_undoes_a_regeneration(pki: LabPKI, tmp_path: Path, good_backup: bytes) -> None:
    original = pki.identity(CertRole.tftp, "cucm2.lab")
    tvs_before = pki.identity(CertRole.tvs, "cucm2.lab")
    (tmp_path / "b").write_bytes(good_backup)
    pki.regenerate(CertRole.tftp, "cucm2.lab")
    pki.restore(tmp_path / "b", PASS)
    assert pki.identity(CertRole.tftp, "cucm2.lab") == original
    assert pki.identity(CertRole.tvs, "cucm2.lab") == tvs_before  # not in a backup


def test_backup_needs_every_tftp_key_but_not_the_optional_ones(pki: LabPKI, tmp_path: Path) -> None:
    pki.forget(CertRole.itlrecovery, "cucm2.lab")
    assert (CertRole.itlrecovery, "cucm2.lab") not in pki.backup(tmp_path / "ok", PASS)
    pki.forget(CertRole.tftp, "cucm2.lab")
    with pytest.raises(UsageError, match=r"no tftp certificate of node cucm2\.lab"):
        pki.backup(tmp_path / "bad", PASS)
    assert not (tmp_path / "bad").exists()
    with pytest.raises(UsageError, match="must not be empty"):
        pki.backup(tmp_path / "bad", "")


@pytest.fixture(scope="module")
def good_backup(pristine: LabPKI, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A backup of the session PKI; any copy of it (`pki`) can restore it."""
    path = tmp_path_factory.mktemp("backup") / "good.bak"
    pristine.backup(path, PASS)
    return path.read_bytes()


def _flip(offset: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]

    return change


MODIFIED = "wrong passphrase, or the backup was modified or truncated"
CASES: list[tuple[str, Callable[[bytes], bytes], str, str]] = [
    ("wrong passphrase", lambda d: d, "Tr0ub4dor&3", MODIFIED),
    ("ciphertext bit", _flip(-40), PASS, MODIFIED),
    ("tag bit", _flip(-1), PASS, MODIFIED),
    ("salt bit", _flip(15), PASS, MODIFIED),
    ("nonce bit", _flip(HEADER.size - 1), PASS, MODIFIED),
    ("kdf cost", _flip(9), PASS, MODIFIED),
    ("kdf cost absurd", lambda d: d[:9] + b"\x40" + d[10:], PASS, "implausible"),
    # within each parameter's range, but together 2**20 x 16 = 2 GiB and ~20 s of scrypt
    ("kdf cost in range but huge", lambda d: d[:9] + bytes([20, 16, 1]) + d[12:], PASS,
     "implausible"),
    ("version", lambda d: d[:8] + b"\x07" + d[9:], PASS, "unsupported backup version 7"),
    ("magic", _flip(0), PASS, "not a phonelab backup"),
    ("cut at the end", lambda d: d[:-1], PASS, MODIFIED),
    ("cut in the header", lambda d: d[: HEADER.size - 3], PASS, "truncated"),
    ("random bytes", lambda d: os.urandom(len(d)), PASS, "not a phonelab backup"),
    ("empty file", lambda d: b"", PASS, "not a phonelab backup"),
]


@pytest.mark.parametrize(
    ("mutate", "passphrase", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_backups_are_refused_and_change_nothing(
    pki: LabPKI,
    tmp_path: Path,
    good_backup: bytes,
    mutate: Callable[[bytes], bytes],
    passphrase: str,
    message: str,
) -> None:
    pki.forget(CertRole.tftp, "cucm1.lab")  # a restore would visibly change this
    bad = tmp_path / "bad.bak"
    bad.write_bytes(mutate(good_backup))
    before = snapshot(pki.root)
    started = time.monotonic()
    with pytest.raises(UsageError, match=message):
        pki.restore(bad, passphrase)
    assert time.monotonic() - started < 5, "a refusal must not pay for an absurd derivation"
    assert snapshot(pki.root) == before


def test_missing_backup_file(pki: LabPKI, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="backup not found"):
        pki.restore(tmp_path / "nope.bak", PASS)


def test_backup_of_another_cluster_is_refused(pki: LabPKI, tmp_path: Path) -> None:
    other = LabPKI.init(tmp_path / "other", ["cucm9.lab"], key_size=1024)
    other.backup(tmp_path / "other.bak", PASS)
    before = snapshot(pki.root)
    with pytest.raises(UsageError, match=r"node\(s\) cucm9.lab not in this lab PKI"):
        pki.restore(tmp_path / "other.bak", PASS)
    assert snapshot(pki.root) == before
