"""Atomic, permission-correct file writes for the lab PKI.

A private key must never exist on disk, even for a moment, with a mode wider than
0600, and a crash mid-write must never leave a half-written key or manifest that
a later `load()` would trust. Hence: create a temporary file in the same directory
(mkstemp creates it 0600), write and fsync it, set the final mode, then
`os.replace` it over the target, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from harness.errors import UsageError
from harness.pki.identity import Identity

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
_ATTEMPTS = 3


def write_atomic(path: Path, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Replace `path` with `data` in one step; the file gets exactly `mode`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_private(path: Path, data: bytes) -> None:
    """Write secret material (private keys, backups) with mode 0600."""
    write_atomic(path, data, PRIVATE_MODE)


def read_file(path: Path, what: str) -> bytes:
    """Bytes of `path`, or a one-line UsageError naming what was expected there."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def remove(path: Path) -> bool:
    """Delete `path` if present; True when something was removed."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UsageError(f"cannot remove {path}: {exc.strerror or exc}") from exc
    return True


def save_pair(identity: Identity, cert_path: Path, key_path: Path) -> None:
    """Key first (0600), then certificate: a torn pair fails the key check on load."""
    write_private(key_path, identity.key_pem)
    write_atomic(cert_path, identity.cert_pem)


def load_pair(cert_path: Path, key_path: Path, what: str) -> Identity:
    """The identity stored as `cert_path` + `key_path` (both must exist).

    A reader racing `save_pair` in another thread or process can see the new key
    next to the old certificate; a mismatch is therefore re-read a few times
    (20 ms apart) before it is reported.
    """
    for attempt in range(_ATTEMPTS):
        cert_pem = read_file(cert_path, f"{what} certificate")
        key_pem = read_file(key_path, f"{what} key")
        try:
            return Identity.from_pem(cert_pem, key_pem, what, own=True)
        except UsageError:
            if attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.02)
    raise AssertionError("unreachable")
