"""Key profiles and LSC issuance for CAPF (docs/PROTOCOLS.md §6.5 key request, §6.8 LSC).

Why here and not in `harness.pki`: the LSC is minted on the wire, from the public
key a phone just generated, inside a CAPF session; the lab PKI only provides
the issuing identity. One deliberate difference from capfd: the issuer name is
the issuing certificate's SUBJECT (capfd copies its ISSUER, which is only right
for a self-signed CAPF certificate) [HARNESS].
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TypeGuard

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPublicKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from harness.errors import UsageError
from harness.services.capf_auth import Signer
from harness.services.capf_wire import KeyType, Tag

RSA_SIZES = (512, 1024, 2048, 3072, 4096)
CURVES: dict[int, str] = {0: "secp256r1", 1: "secp384r1", 2: "secp521r1"}  # CURVE element codes
_CURVE_CLASSES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1}
IPSEC_END_SYSTEM = ObjectIdentifier("1.3.6.1.5.5.7.3.5")
_COPIED = (NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.LOCALITY_NAME,
           NameOID.STATE_OR_PROVINCE_NAME, NameOID.COUNTRY_NAME)


def curve_code(name: str) -> int:
    return next(code for code, known in CURVES.items() if known == name)


def curve_instance(name: str) -> ec.EllipticCurve:
    """An *instance*: capfc passed the class (§6.11), which current libraries reject."""
    return _CURVE_CLASSES[name]()


NewKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def generate_key(key_size: int, curve: str | None) -> NewKey:
    """The phone's new key pair for KEY_GENERATE_REQUEST: EC when a curve is asked.

    ValueError for what CAPF does not define (and for RSA-512, which current
    libraries refuse although capfd offers it)."""
    if curve is not None:
        if curve not in _CURVE_CLASSES:
            raise ValueError(f"unsupported curve {curve!r}")
        return ec.generate_private_key(curve_instance(curve))
    if key_size not in RSA_SIZES:
        raise ValueError(f"unsupported RSA key size {key_size}")
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def key_request(key_size: int, curve: str | None) -> list[tuple[int, bytes]]:
    """KEY_GENERATE_REQUEST elements in capfd's order: ``0A 0002 <bits> 11 0001 00`` for RSA."""
    if curve is not None:
        return [(Tag.KEY_TYPE, bytes([KeyType.EC])), (Tag.CURVE, bytes([curve_code(curve)]))]
    return [(Tag.KEY_SIZE, key_size.to_bytes(2, "big")), (Tag.KEY_TYPE, bytes([KeyType.RSA]))]


def key_matches(public_key: PublicKeyTypes, key_size: int, curve: str | None) -> TypeGuard[
        rsa.RSAPublicKey | ec.EllipticCurvePublicKey]:
    """Did the phone return the kind of key the server asked for?"""
    if curve is not None:
        return isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == curve
    return isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == key_size


def lsc_subject(issuer: x509.Certificate, device_name: str) -> x509.Name:
    """CN = device name, then O, OU, L, ST, C copied from the issuing certificate."""
    attributes: list[x509.NameAttribute[str | bytes]] = [
        x509.NameAttribute(NameOID.COMMON_NAME, device_name)]
    for oid in _COPIED:
        attributes.extend(issuer.subject.get_attributes_for_oid(oid))
    return x509.Name(attributes)


def new_serial() -> int:
    """16 random bytes as a positive integer (never zero)."""
    return int.from_bytes(os.urandom(16), "big") or 1


def issue_lsc(
    issuer: Signer,
    device_name: str,
    public_key: CertificateIssuerPublicKeyTypes,
    *,
    days: int = 365,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """The LSC profile of §6.8, SHA-256 signed by the issuing identity."""
    if not 1 <= days <= 3560:
        raise UsageError(f"LSC validity must be 1-3560 days, not {days}")
    if not isinstance(issuer.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise UsageError("the CAPF issuing key must be RSA or EC")
    start = now or dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(lsc_subject(issuer.cert, device_name))
        .issuer_name(issuer.cert.subject)
        .public_key(public_key)
        .serial_number(new_serial())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_encipherment=True, content_commitment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH, IPSEC_END_SYSTEM]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(device_name)]),
            critical=False,
        )
    )
    return builder.sign(issuer.key, hashes.SHA256())
