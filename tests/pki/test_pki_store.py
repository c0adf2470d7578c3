"""LabPKI on disk: layout and modes, load, lookups and their errors, regenerate, forget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.errors import UsageError
from harness.pki import CertRole, LabPKI


def _public_numbers(pki: LabPKI, role: CertRole, node: str | None) -> rsa.RSAPublicNumbers:
    key = pki.identity(role, node).key
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key().public_numbers()


def test_layout_modes_and_manifest(pristine: LabPKI) -> None:
    root = pristine.root
    files = [p for p in root.rglob("*") if p.is_file()]
    keys = [p for p in files if p.suffix == ".key"]
    assert len(keys) == len(pristine.slots()) == 13
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in keys)
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in files if p.suffix == ".pem")
    assert not [p for p in files if p.name.endswith(".tmp")]  # atomic writes left nothing
    assert (root / "nodes" / "cucm2.lab" / "tftp.key").is_file()
    assert (root / "cluster" / "mfg_ca.pem").is_file()
    manifest = json.loads((root / "manifest.json").read_text())
    assert [n["name"] for n in manifest["nodes"]] == ["cucm1.lab", "cucm2.lab"]
    assert (manifest["key_type"], manifest["key_size"]) == ("rsa", 2048)


def test_load_sees_the_same_identities(pristine: LabPKI) -> None:
    again = LabPKI.load(pristine.root)
    assert again.nodes == ["cucm1.lab", "cucm2.lab"]
    for role, node in pristine.slots():
        assert again.identity(role, node) == pristine.identity(role, node)
    assert again.identity("TFTP", "cucm1.lab").serial == again.identity("tftp", "cucm1.lab").serial


@pytest.mark.parametrize(
    ("role", "node", "message"),
    [
        ("tftp", None, "tftp is per node: name one of cucm1.lab, cucm2.lab"),
        ("tvs", "cucm9.lab", "unknown node 'cucm9.lab'"),
        ("callmanager", "cucm1.lab", "unknown certificate role 'callmanager'"),
        ("sast1", "cucm1.lab", "sast1 is cluster-wide"),
    ],
)
def test_lookup_mistakes_are_usage_errors(
    pristine: LabPKI, role: str, node: str | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        pristine.identity(role, node)


def test_regenerate_changes_key_and_serial_and_persists(pki: LabPKI) -> None:
    before = pki.identity(CertRole.tftp, "cucm1.lab")
    untouched = {slot: pki.identity(*slot) for slot in pki.slots() if slot[0] is not CertRole.tftp}
    old_numbers = _public_numbers(pki, CertRole.tftp, "cucm1.lab")
    new = pki.regenerate("tftp", "cucm1.lab")
    assert new.serial != before.serial
    reloaded = LabPKI.load(pki.root)
    assert reloaded.identity(CertRole.tftp, "cucm1.lab") == new
    assert _public_numbers(reloaded, CertRole.tftp, "cucm1.lab") != old_numbers
    assert new.cert.subject == before.cert.subject
    for slot, ident in untouched.items():
        assert reloaded.identity(*slot) == ident
    key_file = pki.root / "nodes" / "cucm1.lab" / "tftp.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_forget_loses_the_key_until_regenerated(pki: LabPKI) -> None:
    pki.forget(CertRole.tftp, "cucm2.lab")
    folder = pki.root / "nodes" / "cucm2.lab"
    assert not (folder / "tftp.key").exists() and not (folder / "tftp.pem").exists()
    assert not pki.has(CertRole.tftp, "cucm2.lab")
    assert pki.has(CertRole.tftp, "cucm1.lab")
    with pytest.raises(UsageError, match=r"no tftp certificate of node cucm2\.lab"):
        LabPKI.load(pki.root).identity(CertRole.tftp, "cucm2.lab")
    pki.forget(CertRole.tftp, "cucm2.lab")  # forgetting twice is harmless
    assert pki.regenerate(CertRole.tftp, "cucm2.lab") == pki.identity("tftp", "cucm2.lab")


def test_torn_pair_is_refused(pki: LabPKI) -> None:
    folder = pki.root / "nodes" / "cucm1.lab"
    (folder / "tftp.key").write_bytes((folder / "tvs.key").read_bytes())
    with pytest.raises(UsageError, match="does not belong to the certificate"):
        pki.identity(CertRole.tftp, "cucm1.lab")


@pytest.mark.parametrize(
    ("nodes", "addresses", "message"),
    [
        ([], None, "at least one node"),
        (["a.lab", "a.lab"], None, "each name once"),
        (["../etc"], None, "not a host name"),
        (["a.lab"], {"a.lab": "localhost"}, "not an IPv4 address"),
    ],
)
def test_init_mistakes(
    tmp_path: Path, nodes: list[str], addresses: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        LabPKI.init(tmp_path / "lab", nodes, addresses=addresses)
    assert not (tmp_path / "lab" / "manifest.json").exists()


def test_init_refuses_an_existing_pki_and_load_refuses_other_dirs(
    pristine: LabPKI, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="already holds a lab PKI"):
        LabPKI.init(pristine.root, ["cucm1.lab"])
    with pytest.raises(UsageError, match="is not a lab PKI"):
        LabPKI.load(tmp_path)
    (tmp_path / "manifest.json").write_text('{"nodes": 3}')
    with pytest.raises(UsageError, match="malformed lab PKI manifest"):
        LabPKI.load(tmp_path)
