"""The signed-file header shared by .tlv, .sgn and .enc.sgn (docs/PROTOCOLS.md §1).

One encoder and one decoder, so every artefact pads, lays out and signs alike. The
encoder writes certutils' field order (§1.3) and padding (§1.4) to stay
byte-identical; the decoder walks the flat TLV stream of §1.2 in any order, skips
unknown tags by length and turns every inconsistency into a FormatError.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from harness.errors import UsageError
from harness.formats.digest import Digest
from harness.formats.errors import FormatError
from harness.formats.names import (
    dn_string,
    read_tlvs,
    read_zstring,
    serial_bytes,
    serial_int,
    tlv,
    zstring,
)

PAD = 0x0D
_CONTAINERS = frozenset({3, 7, 9, 16, 17, 21})
# value length of each fixed-size tag (§1.1); the other tags are free-length
_FIXED = {1: 2, 2: 2, 8: 1, 10: 1, 11: 1, 15: 4, 18: 1, 19: 16, 20: 2, 22: 1, 23: 2, 24: 1,
          26: 1, 28: 2}
_MODULUS_CODES = {512: 0, 1024: 1, 2048: 2, 4096: 3}


class Signer(Protocol):
    """Anything holding a certificate and its private key (e.g. `pki.Identity`)."""

    @property
    def cert(self) -> x509.Certificate: ...
    @property
    def key(self) -> PrivateKeyTypes: ...


@dataclass(frozen=True)
class SignerInfo:
    """Who signed: DN strings as written in the file; serial 0 when tag 5 is absent."""

    subject: str
    issuer: str
    serial: int


@dataclass(frozen=True)
class EncBlock:
    """Encryption fields of a .enc.sgn header (tags 16-27, §4.3)."""

    iv: bytes
    padding: int
    wrapped_key: bytes
    digest_algorithm: Digest
    digest: bytes
    key_size: int | None = None
    key_algorithm: int | None = None


@dataclass(frozen=True)
class Header:
    """A decoded header. `sig_offset` is the offset of the tag-12 byte."""

    version: tuple[int, int]
    header_length: int
    signer_version: tuple[int, int] | None
    signer: SignerInfo
    digest: Digest
    signature: bytes = field(repr=False)
    sig_offset: int
    filename: str = ""
    timestamp: int | None = None
    enc: EncBlock | None = None
    signature_algorithm: int | None = None
    modulus_code: int | None = None


def parse_header(data: bytes, *, require_serial: bool = False) -> Header:
    """Decode the header at the start of `data` (§1.2); FormatError on anything odd."""
    if len(data) < 10 or data[0:3] != b"\x01\x00\x02":
        raise FormatError("not a signed file: no VERSION tag at the start", 0)
    if data[5:8] != b"\x02\x00\x02":
        raise FormatError("HEADER_LENGTH tag missing after VERSION", 5)
    end = int.from_bytes(data[8:10], "big")
    if end > len(data) or end < 10:
        raise FormatError(f"header length {end} outside the file ({len(data)} bytes)", 8)
    fields, offsets = read_tlvs(data, 10, end, _FIXED, "header", containers=_CONTAINERS, pad=PAD)
    if 8 not in fields or 12 not in fields:
        raise FormatError("header lacks DIGEST_ALGORITHM or SIGNATURE", end)
    if require_serial and 5 not in fields:
        raise FormatError("header lacks SIGNER_SERIAL", end)
    digest = Digest.from_code(fields[8][0], end)
    signer_version = fields.get(28)
    name, issuer, serial = (fields.get(tag, b"") for tag in (4, 6, 5))
    return Header(
        version=(data[3], data[4]),
        header_length=end,
        signer_version=(signer_version[0], signer_version[1]) if signer_version else None,
        signer=SignerInfo(read_zstring(name), read_zstring(issuer), serial_int(serial)),
        digest=digest,
        signature=fields[12],
        sig_offset=offsets[12],
        filename=read_zstring(fields.get(14, b"")),
        timestamp=int.from_bytes(fields[15], "big") if 15 in fields else None,
        enc=_enc_block(fields, digest, end),
        signature_algorithm=fields[10][0] if 10 in fields else None,
        modulus_code=fields[11][0] if 11 in fields else None,
    )


def _enc_block(fields: dict[int, bytes], digest: Digest, end: int) -> EncBlock | None:
    if fields.keys().isdisjoint(range(18, 28)):
        return None
    if not fields.keys() >= {19, 25, 27}:
        raise FormatError("encryption block lacks ENC_IV, ENC_KEY or ENC_DIGEST", end)
    code, size, algorithm = fields.get(26), fields.get(23), fields.get(24)
    return EncBlock(
        iv=fields[19],
        padding=int.from_bytes(fields.get(20, b""), "big"),
        wrapped_key=fields[25],
        digest_algorithm=Digest.from_code(code[0], end) if code else digest,
        digest=fields[27],
        key_size=int.from_bytes(size, "big") if size else None,
        key_algorithm=algorithm[0] if algorithm else None,
    )


def build_signed(
    body: bytes,
    signer: Signer,
    *,
    version: tuple[int, int],
    filename: str,
    digest: Digest = Digest.SHA1,
    timestamp: int | None = None,
    signer_version: tuple[int, int] | None = None,
    extra: bytes = b"",
) -> bytes:
    """Header (§1.3 order, `extra` = encryption block after TIMESTAMP) + body, signed."""
    key = signer.key
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size not in _MODULUS_CODES:
        raise UsageError("file signatures need an RSA 512/1024/2048/4096-bit signer key")
    stamp = int(time.time()) if timestamp is None else timestamp
    if not 0 <= stamp <= 0xFFFFFFFF:
        raise UsageError(f"timestamp {stamp} does not fit in 32 bits")
    cert = signer.cert
    names = tlv(4, zstring(dn_string(cert.subject))) + tlv(6, zstring(dn_string(cert.issuer)))
    algorithm = tlv(10, b"\x00") + tlv(11, bytes((_MODULUS_CODES[key.key_size],)))
    before = tlv(3, names + tlv(5, serial_bytes(cert.serial_number))) + tlv(
        7, tlv(8, bytes((digest,))) + tlv(9, algorithm)
    )
    if signer_version is not None:
        before = tlv(28, bytes(signer_version)) + before
    after = tlv(14, zstring(filename)) + tlv(15, stamp.to_bytes(4, "big")) + extra
    size = 10 + len(before) + len(after) + 3 + key.key_size // 8
    after += bytes((PAD,)) * (-size % 4)
    size += -size % 4
    if size > 0xFFFF:
        raise UsageError(f"header would be {size} bytes; the limit is 65535")
    before = tlv(1, bytes(version)) + tlv(2, size.to_bytes(2, "big")) + before
    signature = key.sign(before + after + body, padding.PKCS1v15(), digest.algorithm())
    return before + tlv(12, signature) + after + body


def signed_bytes(data: bytes, header: Header) -> bytes:
    """The file with the SIGNATURE TLV cut out: what the signature covers (§1.5)."""
    return data[: header.sig_offset] + data[header.sig_offset + 3 + len(header.signature) :]


def verify_signature(data: bytes, header: Header, public_key: PublicKeyTypes | None) -> bool:
    """True when `public_key` (RSA) verifies the file signature; never raises."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    signed, algorithm = signed_bytes(data, header), header.digest.algorithm()
    try:
        public_key.verify(header.signature, signed, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError):
        return False
    return True
