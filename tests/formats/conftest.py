"""Key material for the format tests, generated once per session (RSA keygen is slow)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import NameOID

LAB_DN = "CN=SAST Test,O=Lab,OU=Test"
SERIAL = 0x0A1B2C3D
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Ident:
    """Certificate plus private key: satisfies the formats `Signer` protocol."""

    cert: x509.Certificate
    key: PrivateKeyTypes


def lab_name(common_name: str, *, ou: str = "Test") -> x509.Name:
    """CN, O, OU in that order (the order certutils writes them back)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        ]
    )


def make_cert(
    key: PrivateKeyTypes,
    subject: x509.Name,
    serial: int,
    *,
    issuer: x509.Name | None = None,
    issuer_key: CertificateIssuerPrivateKeyTypes | None = None,
) -> x509.Certificate:
    """A certificate for `key`; self-signed unless an issuer name/key is given."""
    signing_key = issuer_key if issuer_key is not None else key
    assert isinstance(signing_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    public = key.public_key()
    assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(START)
        .not_valid_after(START + datetime.timedelta(days=3650))
        .sign(signing_key, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """Four RSA-2048 keys: SAST, TFTP, phone, stranger."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]


@pytest.fixture(scope="session")
def sast(rsa_keys: list[rsa.RSAPrivateKey]) -> Ident:
    """The §1.6 signer: self-signed RSA-2048, `CN=SAST Test,O=Lab,OU=Test`, 0x0A1B2C3D."""
    return Ident(make_cert(rsa_keys[0], lab_name("SAST Test"), SERIAL), rsa_keys[0])


@pytest.fixture(scope="session")
def tftp(rsa_keys: list[rsa.RSAPrivateKey]) -> Ident:
    """TFTP signer `CN=tftp.lab,O=Lab,OU=Test` issued by `CN=Lab CA,O=Lab,OU=Test`."""
    ca = lab_name("Lab CA")
    cert = make_cert(rsa_keys[1], lab_name("tftp.lab"), SERIAL, issuer=ca, issuer_key=rsa_keys[0])
    return Ident(cert, rsa_keys[1])


@pytest.fixture(scope="session")
def phone(rsa_keys: list[rsa.RSAPrivateKey]) -> Ident:
    """An RSA-2048 phone LSC (the device key that configs are encrypted for)."""
    return Ident(make_cert(rsa_keys[2], lab_name("SEP001122334455"), 0x77), rsa_keys[2])


@pytest.fixture(scope="session")
def stranger(rsa_keys: list[rsa.RSAPrivateKey]) -> Ident:
    """Same names and serial as `sast` but another key: the classic wrong signer."""
    return Ident(make_cert(rsa_keys[3], lab_name("SAST Test"), SERIAL), rsa_keys[3])


@pytest.fixture(scope="session")
def ec_ident() -> Ident:
    """An EC P-256 identity (TVS/TFTP-over-HTTPS style certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return Ident(make_cert(key, lab_name("tvs.lab"), 0xEC01), key)


@pytest.fixture(scope="session")
def cert_pool(rsa_keys: list[rsa.RSAPrivateKey], ec_ident: Ident) -> list[x509.Certificate]:
    """Varied certificates (RSA and EC, short and long serials) for property tests."""
    serials = [1, 0x80, 0xFFEE, 2**127 + 5, 2**159 - 1]
    certs = [make_cert(rsa_keys[i % 3], lab_name(f"node{i}.lab"), s) for i, s in enumerate(serials)]
    certs.append(ec_ident.cert)
    p384 = ec.generate_private_key(ec.SECP384R1())
    certs.append(make_cert(p384, lab_name("p384.lab", ou="Ops, East"), 0x384))
    return certs


Mint = Callable[..., Ident]


@pytest.fixture(scope="session")
def mint(rsa_keys: list[rsa.RSAPrivateKey]) -> Mint:
    """Make a one-off identity: `mint(cn, serial, key_index=0, ou="Test", issuer_cn=None)`."""

    def make(
        common_name: str, serial: int, key_index: int = 0, ou: str = "Test",
        issuer_cn: str | None = None,
    ) -> Ident:
        key = rsa_keys[key_index]
        issuer = None if issuer_cn is None else lab_name(issuer_cn)
        return Ident(make_cert(key, lab_name(common_name, ou=ou), serial, issuer=issuer), key)

    return make
