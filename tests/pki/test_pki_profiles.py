"""Certificate profiles: what each role's certificate must look like (docs/PROTOCOLS.md §6.1,
§1.5), MICs chaining to the manufacturing CA, and the Identity helpers."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.errors import UsageError
from harness.pki import CertRole, Identity, LabPKI
from harness.pki.issue import check_key_size

DAY_SECONDS = 86400


def _years(cert: x509.Certificate) -> float:
    span = cert.not_valid_after_utc - cert.not_valid_before_utc
    return span.total_seconds() / DAY_SECONDS / 365


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_every_role_is_self_signed_with_a_long_random_serial(pristine: LabPKI) -> None:
    serials = set()
    for role, node in pristine.slots():
        ident = pristine.identity(role, node)
        cert = ident.cert
        assert cert.issuer == cert.subject
        cert.verify_directly_issued_by(cert)
        org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        unit = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
        assert (org, unit) == ("phonelab Lab", role.value)
        assert next(iter(cert.subject)).oid == NameOID.COMMON_NAME  # CN first, like CUCM
        assert ident.serial.bit_length() > 120  # >= 16 random bytes
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
        expected_years = 20 if role is CertRole.mfg_ca else 5
        assert expected_years <= _years(cert) < expected_years + 0.1
        serials.add(ident.serial)
    assert len(serials) == len(pristine.slots())
    assert _cn(pristine.identity("tftp", "cucm1.lab").cert) == "cucm1.lab"


def test_capf_is_a_ca_with_pathlen_zero(pristine: LabPKI) -> None:
    cert = pristine.identity(CertRole.capf, "cucm2.lab").cert
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.key_cert_sign
    # An issuer's EKU would constrain the LSCs it signs; CAPF carries none.
    assert not [e for e in cert.extensions if isinstance(e.value, x509.ExtendedKeyUsage)]


def test_token_signers_only_sign(pristine: LabPKI) -> None:
    for role in (CertRole.sast1, CertRole.sast2):
        cert = pristine.identity(role).cert
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and not usage.key_encipherment
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_tftp_signs_files_and_serves_tls(pristine: LabPKI) -> None:
    cert = pristine.identity(CertRole.tftp, "cucm1.lab").cert
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in ekus and ExtendedKeyUsageOID.CLIENT_AUTH in ekus
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


def test_tomcat_san_names_host_and_address(pristine: LabPKI) -> None:
    for index, node in enumerate(pristine.nodes, 1):
        cert = pristine.identity(CertRole.tomcat, node).cert
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [node]
        address = ipaddress.ip_address(f"127.0.1.{index}")
        assert san.get_values_for_type(x509.IPAddress) == [address]
        assert pristine.address(node) == str(address)


def test_ec_option_applies_to_tls_roles_only(ec_pki: LabPKI) -> None:
    for role in (CertRole.tvs, CertRole.tomcat, CertRole.capf):
        key = ec_pki.identity(role, "cucm1.lab").key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert isinstance(key.curve, ec.SECP256R1)
    for role, node in ec_pki.slots():
        if role in (CertRole.tvs, CertRole.tomcat, CertRole.capf):
            continue
        key = ec_pki.identity(role, node).key
        assert isinstance(key, rsa.RSAPrivateKey), role
        assert key.key_size == 1024  # configurable modulus, for modulus-code tests
    capf = ec_pki.identity(CertRole.capf, "cucm1.lab").cert
    assert capf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_key_options_are_checked_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="key size 512"):
        LabPKI.init(tmp_path / "a", ["cucm1.lab"], key_size=512)
    with pytest.raises(UsageError, match="key type 'dsa'"):
        LabPKI.init(tmp_path / "b", ["cucm1.lab"], key_type="dsa")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert check_key_size(4096) == 4096


def test_mic_chains_to_mfg_ca_and_is_cached(pki: LabPKI) -> None:
    mic = pki.issue_mic("sep00aabbccddee", "CP-8861")
    ca = pki.identity(CertRole.mfg_ca).cert
    assert _cn(mic.cert) == "CP-8861-SEP00AABBCCDDEE"
    assert mic.cert.issuer == ca.subject
    ca_key = ca.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    hash_algorithm = mic.cert.signature_hash_algorithm
    assert hash_algorithm is not None
    ca_key.verify(
        mic.cert.signature, mic.cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm
    )
    assert isinstance(mic.key, rsa.RSAPrivateKey) and mic.key.key_size == 2048
    assert 19.9 < _years(mic.cert) <= 20.1
    assert mic.cert.not_valid_after_utc <= ca.not_valid_after_utc
    assert not mic.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (pki.root / "phones" / "SEP00AABBCCDDEE.key").stat().st_mode & 0o777 == 0o600
    again = LabPKI.load(pki.root).issue_mic("SEP00AABBCCDDEE", "8861")
    assert again.der == mic.der


def test_mic_is_reissued_when_the_mfg_ca_changes(pki: LabPKI) -> None:
    old = pki.issue_mic("SEP001122334455", "7975G")
    new_ca = pki.regenerate(CertRole.mfg_ca)
    new = pki.issue_mic("SEP001122334455", "7975G")
    assert new.serial != old.serial
    new.cert.verify_directly_issued_by(new_ca.cert)


@pytest.mark.parametrize(
    ("device", "model", "message"),
    [
        ("SEP0011223344", "8861", "12 hex"),
        ("CIP001122334455", "8861", "12 hex"),
        ("SEP00112233445G", "8861", "12 hex"),
        ("SEP001122334455", "88 61", "model"),
        ("SEP001122334455", "", "model"),
    ],
)
def test_mic_rejects_bad_names(pristine: LabPKI, device: str, model: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        pristine.issue_mic(device, model)


def test_identity_helpers(pristine: LabPKI) -> None:
    ident = pristine.identity(CertRole.sast1)
    assert ident.fingerprint_sha1 == ident.cert.fingerprint(hashes.SHA1()).hex()
    assert len(ident.fingerprint_sha1) == 40
    assert x509.load_der_x509_certificate(ident.der) == ident.cert
    assert Identity.from_pem(ident.cert_pem, ident.key_pem) == ident
    other = pristine.identity(CertRole.sast2)
    with pytest.raises(UsageError, match="does not belong"):
        Identity.from_pem(ident.cert_pem, other.key_pem)
    with pytest.raises(UsageError, match="unreadable certificate"):
        Identity.from_pem(b"junk", ident.key_pem)
    with pytest.raises(UsageError, match="unreadable private key"):
        Identity.from_pem(ident.cert_pem, b"junk")
