"""CAPF existing-certificate authentication (docs/PROTOCOLS.md §6.7.1, §6.7.3).

Why hand-written RSA: phones and capfd sign the *bare* SHA-1 / SHA-512 digest in
a PKCS#1 type-1 block (no DigestInfo), which no high-level signing API offers;
so signing is a modular exponentiation with the private numbers, and checking
uses `cryptography`'s signature-recovery API. EC keys use ordinary ECDSA (DER).
Both the server (checks) and the phone-side client (signs) use this module.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from harness.errors import UsageError
from harness.services.capf_wire import (
    Message,
    SudiData,
    Tag,
    parse_sha2_signed,
    unwrap_certificate,
)

# DER DigestInfo prefixes: accepted on input (capfd compares only the tail, §6.7.1).
_DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_ECDSA_HASH = {"sha1": hashes.SHA1, "sha512": hashes.SHA512}


class Signer(Protocol):
    """Anything with a certificate and its private key (e.g. `harness.pki.Identity`)."""

    @property
    def cert(self) -> x509.Certificate: ...

    @property
    def key(self) -> PrivateKeyTypes: ...


def auth_data(device_name: str, cert_der: bytes) -> bytes:
    """What both signatures cover: ``DEVICE_NAME || 00 || certificate DER``."""
    return device_name.encode() + b"\0" + cert_der


def sudi_data(session_id: int, cert_der: bytes) -> bytes:
    """SUDI signed data: the session id LITTLE-endian (the one exception, §0.3)."""
    return struct.pack("<I", session_id) + cert_der


def sign(key: PrivateKeyTypes, data: bytes, algorithm: str) -> bytes:
    """Raw PKCS#1 type-1 over the bare digest for RSA; ECDSA DER for EC."""
    if isinstance(key, rsa.RSAPrivateKey):
        digest = hashlib.new(algorithm, data).digest()
        size = (key.key_size + 7) // 8
        if size < len(digest) + 11:
            raise UsageError(f"RSA-{key.key_size} is too small for a {algorithm} block")
        block = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
        numbers = key.private_numbers()
        value = pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n)
        return value.to_bytes(size, "big")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_ECDSA_HASH[algorithm]()))
    raise UsageError(f"CAPF authentication needs an RSA or EC key, not {type(key).__name__}")


def verify(public_key: PublicKeyTypes, data: bytes, signature: bytes, algorithm: str) -> bool:
    """Check a `sign` result; bare or DigestInfo-wrapped RSA digests both pass."""
    digest = hashlib.new(algorithm, data).digest()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            recovered = public_key.recover_data_from_signature(
                signature, padding.PKCS1v15(), None)
            return recovered in (digest, _DIGEST_INFO[algorithm] + digest)
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(_ECDSA_HASH[algorithm]()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def issued_by_any(cert: x509.Certificate, cas: Iterable[x509.Certificate]) -> bool:
    """Issuer DN equals a CA's subject and that CA's key verifies the signature.

    Expiry is not checked, as capfd does not (§6.7.1): a phone with an old MIC
    must still be able to enroll.
    """
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


def prove(signer: Signer, device_name: str) -> tuple[bytes, bytes, bytes]:
    """(certificate DER, SIGNED_DATA, SHA-512 signature) for AUTH_RESPONSE."""
    der = signer.cert.public_bytes(Encoding.DER)
    data = auth_data(device_name, der)
    return der, sign(signer.key, data, "sha1"), sign(signer.key, data, "sha512")


def check_proof(cert: x509.Certificate, device_name: str, signed: bytes, sha512_signed: bytes,
                cas: Iterable[x509.Certificate]) -> str | None:
    """None when the certificate proof is good, else why it failed (for events)."""
    if not issued_by_any(cert, cas):
        return "certificate not issued by the CAPF issuer or a verification CA"
    data = auth_data(device_name, cert.public_bytes(Encoding.DER))
    key = cert.public_key()
    if not verify(key, data, signed, "sha1"):
        return "SIGNED_DATA does not verify"
    if not verify(key, data, sha512_signed, "sha512"):
        return "SHA2_SIGNED_DATA does not verify"
    return None


def sign_sudi(sudi: Signer, session_id: int) -> SudiData:
    """SUDI_DATA for hardware that has a SUDI certificate (RSA only, §6.7.3)."""
    der = sudi.cert.public_bytes(Encoding.DER)
    data = sudi_data(session_id, der)
    return SudiData(der, sign(sudi.key, data, "sha1"), sign(sudi.key, data, "sha512"))


def check_sudi(sudi: SudiData, session_id: int, cas: Iterable[x509.Certificate]) -> str | None:
    """None when acceptable: like capfd, a non-RSA SUDI is ignored, an RSA one must check."""
    try:
        cert = x509.load_der_x509_certificate(sudi.certificate)
    except ValueError:
        return "SUDI certificate is not DER"
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    if not issued_by_any(cert, cas):
        return "SUDI certificate not issued by a known CA"
    data = sudi_data(session_id, sudi.certificate)
    if not (verify(key, data, sudi.sha1_signature, "sha1")
            and verify(key, data, sudi.sha512_signature, "sha512")):
        return "SUDI signature does not verify"
    return None


def password_matches(given: bytes | None, expected: str) -> bool:
    """PASSWORD zstring equal to the stored string exactly; missing is a failure."""
    return given is not None and hmac.compare_digest(given.removesuffix(b"\0"), expected.encode())


def certificate_auth_failure(message: Message, device_name: str,
                             cas: Iterable[x509.Certificate], session_id: int) -> str | None:
    """Check an AUTH_RESPONSE for "certificate" mode (§6.5); None if it passes."""
    wrapped, signed = message.get(Tag.CERTIFICATE), message.get(Tag.SIGNED_DATA)
    sha2 = message.get(Tag.SHA2_SIGNED_DATA)
    if wrapped is None or signed is None or sha2 is None:
        return "CERTIFICATE, SIGNED_DATA and SHA2_SIGNED_DATA are required"
    try:
        cert = x509.load_der_x509_certificate(unwrap_certificate(wrapped)[1])
        code, sha512_signed = parse_sha2_signed(sha2)
        sudi = message.get(Tag.SUDI_DATA)
        sudi_data = SudiData.parse(sudi) if sudi is not None else None
    except ValueError as exc:  # FormatError is a ValueError too
        return f"malformed certificate authentication: {exc}"
    if code != 3:
        return f"SHA2_SIGNED_DATA digest code {code}, expected 3 (SHA-512)"
    cas = tuple(cas)
    failure = check_proof(cert, device_name, signed, sha512_signed, cas)
    if failure is None and sudi_data is not None:
        failure = check_sudi(sudi_data, session_id, cas)
    return failure
