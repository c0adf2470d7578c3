"""Shared lab PKIs for the pki tests: key generation is the slow part, so each PKI
is generated once per session and copied (cheap) for tests that modify it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.pki import LabPKI

NODES = ["cucm1.lab", "cucm2.lab"]


@pytest.fixture(scope="session")
def pristine_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki") / "lab"
    LabPKI.init(root, NODES)
    return root


@pytest.fixture(scope="session")
def pristine(pristine_root: Path) -> LabPKI:
    """Read-only: never modify this one (use `pki`)."""
    return LabPKI.load(pristine_root)


@pytest.fixture
def pki(pristine_root: Path, tmp_path: Path) -> LabPKI:
    """A private, writable copy of the session PKI (modes preserved)."""
    root = tmp_path / "lab"
    shutil.copytree(pristine_root, root)
    return LabPKI.load(root)


@pytest.fixture(scope="session")
def ec_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    """key_type ec with 1024-bit RSA for the roles that must stay RSA (read-only)."""
    return LabPKI.init(tmp_path_factory.mktemp("pki-ec") / "lab", ["cucm1.lab"], "ec", 1024)
