"""Certificates and a running TVS for the TVS tests (not a test module itself).

Kept out of conftest.py so it does not collide with other services' fixtures;
keys are generated once per process (RSA-2048 is the slow part of every test).
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Ident:
    """Anything with .cert/.key is a signer for the services."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)


@functools.cache
def _key(slot: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(cn: str, org: str = "Lab", unit: str = "Test") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "AU"),
    ])


@functools.cache
def ident(cn: str, serial: int = 0x0A1B2C3D, slot: int = 0, issuer: Ident | None = None) -> Ident:
    """Self-signed (or issued by `issuer`) RSA-2048 certificate; cached per arguments."""
    key = _key(slot)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer.cert.subject if issuer else name(cn))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Ident(cert, key)
