"""CTL/ITL trust lists (.tlv, docs/PROTOCOLS.md §2): records, signer lookup, rollback form.

The emulator, fixtures and CLI need one answer to "who signed this list, does it
verify, is it the rollback ITL": signer lookup by integer serial and normalised
issuer (§2.5), hash-only and empty records (§2.2, §2.7), unknown roles kept as ints.
Records are written in certutils' tag order (1,3,5,6,4,7,8,9), read in any order.
A parsed list is immutable, so the same bytes parse to one shared object: every twin
phone of a storm downloads the same ITL, and thousands of private copies of its
records, keys and bytes were most of what a booted twin held.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from harness.errors import UsageError
from harness.formats import names
from harness.formats.digest import Digest
from harness.formats.errors import FormatError
from harness.formats.header import Header, Signer, build_signed, parse_header, verify_signature
from harness.formats.names import normalise_dn, public_key_bytes, read_zstring, tlv, zstring
from harness.formats.roles import Role, role_label

__all__ = ["Record", "Role", "TrustList", "build_trust_list", "parse_trust_list", "role_label"]

_FIXED = {1: 2, 4: 2, 10: 4, 12: 1}
_GUARDED_ROLES = frozenset({Role.CCM_TFTP, Role.TFTP, Role.TVS})


@dataclass(frozen=True)
class Record:
    """One trust-list entry; `public_key`/`signature` are the raw tag 7/8 bytes."""

    role: int
    subject: str = ""
    issuer: str = ""
    serial: int | None = None
    certificate: bytes | None = None
    public_key: bytes | None = None
    signature: bytes | None = None
    dns_name: str | None = None
    ip_address: IPv4Address | None = None
    cert_hash: bytes | None = None
    hash_algorithm: int | None = None

    @classmethod
    def from_certificate(
        cls, cert: x509.Certificate, role: int, dns_name: str | None = None,
        ip: str | IPv4Address | None = None,
    ) -> Record:
        """A full record as certutils writes it (names, serial, key, CA signature, DER)."""
        key = public_key_bytes(cert.public_key())
        if key is None:
            raise UsageError("trust-list records hold RSA or EC certificates only")
        der, address = cert.public_bytes(Encoding.DER), None if ip is None else IPv4Address(ip)
        return cls(*_identity(cert, role), der, key, cert.signature, dns_name, address)

    @classmethod
    def hash_only(cls, cert: x509.Certificate, role: int, digest: Digest = Digest.SHA1) -> Record:
        """A record naming a certificate by digest only (tags 11/12); it cannot sign."""
        value = digest.hash(cert.public_bytes(Encoding.DER))
        return cls(*_identity(cert, role), cert_hash=value, hash_algorithm=int(digest))

    @classmethod
    def empty(cls, role: int) -> Record:
        """A blank TVS/TFTP entry of the rollback ITL (§2.7, harness encoding)."""
        return cls(int(role))

    @property
    def is_empty(self) -> bool:
        """No key material: no public key, certificate or certificate hash (§2.7)."""
        return self.public_key is None and self.certificate is None and self.cert_hash is None

    @property
    def sha1(self) -> str | None:
        """Lower-case SHA-1 fingerprint of the certificate DER, if there is one."""
        return None if self.certificate is None else hashlib.sha1(self.certificate).hexdigest()

    @cached_property
    def verifying_key(self) -> PublicKeyTypes | None:
        """Public key of the record's certificate, loaded once; None if absent or bad."""
        try:
            return x509.load_der_x509_certificate(self.certificate or b"").public_key()
        except Exception:  # hostile DER: cryptography raises several unrelated types
            return None

    def matches(self, cert: x509.Certificate) -> bool:
        """Same DER, same digest (hash-only record), or same public key as `cert`."""
        der = cert.public_bytes(Encoding.DER)
        if self.certificate == der:
            return True
        if self.cert_hash is not None:
            code = Digest.SHA1 if self.hash_algorithm is None else self.hash_algorithm
            return code in Digest._value2member_map_ and Digest(code).hash(der) == self.cert_hash
        key = self.verifying_key
        mine = self.public_key or (None if key is None else public_key_bytes(key))
        return mine is not None and mine == public_key_bytes(cert.public_key())

    def encode(self) -> bytes:
        """RECORD_LENGTH, [2], 3, 5, 6, 4, then whichever of 7-12 are set."""
        body = b"" if self.dns_name is None else tlv(2, zstring(self.dns_name))
        body += tlv(3, zstring(self.subject)) + tlv(5, zstring(self.issuer))
        body += tlv(6, b"" if self.serial is None else names.serial_bytes(self.serial))
        body += tlv(4, self.role.to_bytes(2, "big"))
        ip = None if self.ip_address is None else self.ip_address.packed
        algorithm = None if self.hash_algorithm is None else bytes((self.hash_algorithm,))
        tail = (self.public_key, self.signature, self.certificate, ip, self.cert_hash, algorithm)
        body += b"".join(tlv(tag, v) for tag, v in enumerate(tail, 7) if v is not None)
        if len(body) + 5 > 0xFFFF:
            raise UsageError(f"record for {self.subject!r} exceeds 65535 bytes")
        return tlv(1, (len(body) + 5).to_bytes(2, "big")) + body


def _identity(cert: x509.Certificate, role: int) -> tuple[int, str, str, int]:
    subject, issuer = names.dn_string(cert.subject), names.dn_string(cert.issuer)
    return int(role), subject, issuer, cert.serial_number


def _decode_record(data: bytes, start: int) -> tuple[Record, int]:
    """One record starting at `start` (§2.2 parsing loop); returns it and its end."""
    if data[start : start + 3] != b"\x01\x00\x02" or start + 5 > len(data):
        raise FormatError("record does not start with RECORD_LENGTH", start)
    end = start + int.from_bytes(data[start + 3 : start + 5], "big")
    if end > len(data) or end < start + 5:
        raise FormatError(f"record length {end - start} outside the file", start + 3)
    fields, _ = names.read_tlvs(data, start + 5, end, _FIXED, "record")
    if 4 not in fields:
        raise FormatError("record without ROLE", start)
    get = fields.get
    serial, dns, ip, algorithm = get(6), get(2), get(10), get(12)
    return Record(  # fields in declaration order: role, subject, issuer, serial, ...
        int.from_bytes(fields[4], "big"), read_zstring(get(3, b"")), read_zstring(get(5, b"")),
        names.serial_int(serial) if serial else None, get(9), get(7), get(8),
        None if dns is None else read_zstring(dns), None if ip is None else IPv4Address(ip),
        get(11), None if algorithm is None else algorithm[0],
    ), end


@dataclass(frozen=True)
class TrustList:
    """A parsed CTL or ITL: header, records in file order, and the file bytes."""

    header: Header
    records: tuple[Record, ...]
    raw: bytes = field(repr=False)

    def signer_record(self) -> Record | None:
        """The SAST record with the header's serial and issuer (§2.5); full ones first."""
        signer = self.header.signer
        found = [r for r in self.records if r.role == Role.SAST and r.serial == signer.serial]
        found = [r for r in found if normalise_dn(r.issuer) == normalise_dn(signer.issuer)]
        found.sort(key=lambda record: record.certificate is None)
        return found[0] if found else None

    def verify(self) -> bool:
        """True when the signer record's certificate key verifies the file signature."""
        record = self.signer_record()
        return record is not None and verify_signature(self.raw, self.header, record.verifying_key)

    @property
    def is_rollback(self) -> bool:
        """§2.7: an empty TFTP/CCM+TFTP/TVS record and no non-empty one with those roles."""
        guarded = [r.is_empty for r in self.records if r.role in _GUARDED_ROLES]
        return any(guarded) and all(guarded)

    @cached_property
    def digest(self) -> str:
        """SHA-256 hex of the file bytes: identifies what a phone has installed."""
        return hashlib.sha256(self.raw).hexdigest()

    def records_with(self, role: int) -> tuple[Record, ...]:
        """Records carrying this role code, in file order."""
        return tuple(r for r in self.records if r.role == role)


def build_trust_list(
    records: Iterable[Record], signer: Signer, *, digest: Digest = Digest.SHA1,
    signer_version: tuple[int, int] = (1, 0), filename: str = "ITLFile.tlv",
    timestamp: int | None = None,
) -> bytes:
    """A signed trust list (VERSION 1.2, tag 28) holding `records` in the given order."""
    body = b"".join(record.encode() for record in records)
    return build_signed(body, signer, version=(1, 2), filename=filename, digest=digest,
                        timestamp=timestamp, signer_version=signer_version)


SHARED_LISTS = 32  # distinct trust lists whose parse is kept for sharing


def parse_trust_list(data: bytes) -> TrustList:
    """Decode a .tlv file; any malformed byte raises FormatError with its offset.

    Equal bytes give the same (immutable) TrustList, kept for the last
    `SHARED_LISTS` distinct files; failures are not kept."""
    return _parse_shared(data) if type(data) is bytes else _parse(data)


@functools.lru_cache(maxsize=SHARED_LISTS)
def _parse_shared(data: bytes) -> TrustList:
    return _parse(data)


def _parse(data: bytes) -> TrustList:
    header = parse_header(data, require_serial=True)
    records: list[Record] = []
    off = header.header_length
    while off < len(data):
        record, off = _decode_record(data, off)
        records.append(record)
    return TrustList(header, tuple(records), data)
