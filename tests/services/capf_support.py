"""Certificates and helpers for the CAPF tests (not a test module itself).

Kept out of conftest.py so it cannot collide with other services' fixtures.
Keys are made once per process: RSA-2048 generation is the slow part.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from harness.services.capf_client import CapfClient, CapfResult

PHONE = "SEP001122334455"


@dataclass(frozen=True)
class Ident:
    cert: x509.Certificate
    key: PrivateKeyTypes

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)


@functools.cache
def rsa_key(slot: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Voice"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Brisbane"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "QLD"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "AU"),
    ])


def make_cert(cn: str, key: PrivateKeyTypes, issuer: Ident | None = None, *,
              ca: bool = False) -> Ident:
    """CA certs get the CUCM CAPF profile: CA:TRUE pathlen 0, digitalSignature+keyCertSign."""
    now = datetime.datetime.now(datetime.UTC)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer.cert.subject if issuer else name(cn))
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=not ca,
            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    )
    return Ident(builder.sign(signer_key, hashes.SHA256()), key)  # type: ignore[arg-type]


@functools.cache
def capf_ca() -> Ident:
    """The CAPF TLS certificate (self-signed, also the default issuer)."""
    return make_cert("CAPF-1a2b3c4d", rsa_key("capf"), ca=True)


@functools.cache
def root_ca() -> Ident:
    return make_cert("Lab Root", rsa_key("root"), ca=True)


@functools.cache
def sub_issuer() -> Ident:
    """An issuing CA that is NOT self-signed: issuer name must be ITS subject (§6.8)."""
    return make_cert("CAPF-Issuer", ec.generate_private_key(ec.SECP256R1()), root_ca(), ca=True)


@functools.cache
def mfg_ca() -> Ident:
    return make_cert("Cisco Manufacturing CA", rsa_key("mfg"), ca=True)


@functools.cache
def mic() -> Ident:
    return make_cert(f"CP-8865-{PHONE}", rsa_key("mic"), mfg_ca())


@functools.cache
def rogue_ca() -> Ident:
    return make_cert("Rogue CA", rsa_key("rogue"), ca=True)


@functools.cache
def rogue_cert() -> Ident:
    return make_cert(PHONE, ec.generate_private_key(ec.SECP256R1()), rogue_ca())


def enroll(address: tuple[str, int], device: str = PHONE, *, trust: Ident | None = None,
           **options: object) -> tuple[CapfResult, CapfClient]:
    """One session of the harness phone-side client against `address`."""
    trusted = (trust or capf_ca()).der
    client = CapfClient(device, [address], lambda der: der == trusted, **options)  # type: ignore[arg-type]
    return asyncio.run(client.run()), client
