"""Signed files (.sgn / .sha512, docs/PROTOCOLS.md §3): a header, then the file unchanged.

Configs, ring lists and other provisioning files all travel in this container, and
the TFTP endpoint, the phone emulator and `phonelab sgn` each need to build, check
or strip it. The header rules themselves live in `header`; this module adds the
.sgn specifics: VERSION 1.0, no tag 28, FILENAME = the signed file's own name, and
the stripping rule of §3.4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from harness.formats.digest import Digest
from harness.formats.header import (
    Header,
    Signer,
    SignerInfo,
    build_signed,
    parse_header,
    verify_signature,
)
from harness.formats.names import dn_string, same_dn

SIGNED_SUFFIXES = (".sgn", ".sha512")


@dataclass(frozen=True)
class SignedFile:
    """A parsed signed file: its header, the payload after it and the whole file."""

    header: Header
    body: bytes = field(repr=False)
    raw: bytes = field(repr=False)

    @property
    def signer(self) -> SignerInfo:
        """Subject, issuer and serial of the signer as named in the header."""
        return self.header.signer

    def verify(self, cert: x509.Certificate) -> bool:
        """True when `cert`'s (RSA) public key verifies the file signature (§1.5)."""
        try:
            key = cert.public_key()
        except (ValueError, UnsupportedAlgorithm):
            return False
        return verify_signature(self.raw, self.header, key)

    def names_signer(self, cert: x509.Certificate) -> bool:
        """True when the header names `cert` as signer: same serial, same issuer DN (§3.3)."""
        signer = self.header.signer
        issuer = dn_string(cert.issuer)
        return signer.serial == cert.serial_number and same_dn(signer.issuer, issuer)


def sign_file(
    body: bytes,
    signer: Signer,
    *,
    filename: str,
    digest: Digest = Digest.SHA1,
    timestamp: int | None = None,
) -> bytes:
    """`body` behind a VERSION 1.0 header signed by `signer`; FILENAME = `filename`."""
    return build_signed(
        body, signer, version=(1, 0), filename=filename, digest=digest, timestamp=timestamp
    )


def parse_signed(data: bytes) -> SignedFile:
    """Decode any signed file (.sgn, .tlv or .enc.sgn); FormatError when malformed."""
    header = parse_header(data)
    return SignedFile(header, data[header.header_length :], data)


def strip(data: bytes) -> bytes:
    """The payload of a signed file: bytes from HEADER_LENGTH to the end (§3.4)."""
    return parse_signed(data).body


def stripped_name(name: str) -> str:
    """Output name of a stripped file: `name` without a trailing .sgn/.sha512 (§3.4)."""
    for suffix in SIGNED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
