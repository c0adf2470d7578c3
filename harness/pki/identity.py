"""`Identity`: one certificate with its private key, the unit every module signs with.

Formats, endpoints and the twin only need "a certificate and the key behind it"
(the `Signer` protocol of DESIGN.md); bundling the pair in a frozen dataclass with
the few encodings callers keep asking for (PEM, DER, serial, SHA-1 fingerprint as
shown in Cisco trust-list listings) keeps that plumbing in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from harness.errors import UsageError

# The key types the lab creates; anything else is refused when loading from disk.
LabPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, eq=False)
class Identity:
    """A certificate and its private key (satisfies the `Signer` protocol).

    Equal when certificate and key are byte-for-byte the same (key objects of
    `cryptography` compare by object identity, which is useless after a reload).
    """

    cert: x509.Certificate
    key: PrivateKeyTypes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self.der == other.der and self.key_pem == other.key_pem

    def __hash__(self) -> int:
        return hash(self.der)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM (the on-disk file is protected by mode 0600)."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def der(self) -> bytes:
        """The certificate in DER, as carried in trust-list records."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def serial(self) -> int:
        return self.cert.serial_number

    @property
    def fingerprint_sha1(self) -> str:
        """Lower-case hex SHA-1 of the DER certificate (no separators)."""
        return self.cert.fingerprint(hashes.SHA1()).hex()

    @property
    def subject(self) -> x509.Name:
        return self.cert.subject

    @classmethod
    def from_pem(
        cls, cert_pem: bytes, key_pem: bytes, what: str = "identity", *, own: bool = False
    ) -> Identity:
        """Parse a PEM pair, refusing unreadable data and a key that is not the cert's.

        `own=True` (the lab's own 0600 files, authenticated backups) skips OpenSSL's
        RSA consistency check, which costs ~40 ms per key on every lookup.
        """
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError:
            raise UsageError(f"{what}: unreadable certificate PEM") from None
        try:
            key = serialization.load_pem_private_key(
                key_pem, password=None, unsafe_skip_rsa_key_validation=own
            )
        except (ValueError, TypeError):
            raise UsageError(f"{what}: unreadable private key PEM") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise UsageError(f"{what}: unsupported key type {type(key).__name__}")
        identity = cls(cert, key)
        if not identity.key_matches():
            raise UsageError(f"{what}: private key does not belong to the certificate")
        return identity

    def key_matches(self) -> bool:
        """True when the private key is the one behind the certificate's public key."""
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        mine = self.key.public_key().public_bytes(der, spki)
        return mine == self.cert.public_key().public_bytes(der, spki)
