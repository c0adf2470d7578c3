"""What a TVS vouches for: certificates with their roles and cache TTL (§5.6).

A live store rather than a file: cluster procedures (certificate regeneration,
trust-store uploads) change it while TVS serves, and the next request must see
the change without a restart, so every method takes one lock and lookups read
the indexes built on `add`.

Matching follows docs/PROTOCOLS.md §0.3: by DER (or its SHA-256), or by integer
serial plus a normalised issuer, never by byte-equal DN strings, because CUCM
(`;`-joined) and certutils (`,`-joined) render names differently.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from harness.formats.names import Dn, dn_string, normalise_dn

DEFAULT_TTL = 86400
MAX_TTL = 2592000  # tvsd's accepted range is 1..2592000 s (§5.6)


def dn_key(dn: str | x509.Name) -> Dn:
    """Comparable form of a DN in either dialect (`;` CUCM or `,` certutils)."""
    return normalise_dn(dn_string(dn) if isinstance(dn, x509.Name) else dn)


@dataclass(frozen=True)
class TrustEntry:
    """One trusted certificate; roles are integer codes (§2.4)."""

    certificate: x509.Certificate
    roles: frozenset[int]
    ttl: int = DEFAULT_TTL
    der: bytes = field(init=False, repr=False)
    sha256: str = field(init=False)
    # the issuer in comparable form, once: a storm asks TVS by issuer+serial per phone
    issuer_key: Dn = field(init=False, repr=False, compare=False)
    subject_key: Dn = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        der = self.certificate.public_bytes(Encoding.DER)
        object.__setattr__(self, "der", der)
        object.__setattr__(self, "sha256", hashlib.sha256(der).hexdigest())
        object.__setattr__(self, "issuer_key", dn_key(self.certificate.issuer))
        object.__setattr__(self, "subject_key", dn_key(self.certificate.subject))

    @property
    def subject(self) -> str:
        return dn_string(self.certificate.subject)


class TrustStore:
    """Thread-safe (certificate, roles, ttl) entries; adding again overwrites roles/ttl."""

    def __init__(self, entries: Iterable[TrustEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._by_hash: dict[str, TrustEntry] = {}
        for entry in entries:
            self._by_hash[entry.sha256] = entry

    def add(
        self, cert: x509.Certificate, roles: Iterable[int], ttl: int = DEFAULT_TTL
    ) -> TrustEntry:
        if not 1 <= ttl <= MAX_TTL:
            raise ValueError(f"ttl {ttl} outside 1..{MAX_TTL} seconds")
        entry = TrustEntry(cert, frozenset(roles), ttl)
        if any(not 0 <= role <= 255 for role in entry.roles):
            raise ValueError("role codes must fit one byte on the TVS wire")
        with self._lock:
            self._by_hash[entry.sha256] = entry
        return entry

    def remove(self, cert: x509.Certificate | bytes) -> bool:
        """Forget a certificate (object or DER); True if it was there."""
        der = cert if isinstance(cert, bytes) else cert.public_bytes(Encoding.DER)
        with self._lock:
            return self._by_hash.pop(hashlib.sha256(der).hexdigest(), None) is not None

    def replace(self, entries: Iterable[TrustEntry]) -> None:
        """Swap the whole content at once (a cluster-wide trust-store change)."""
        fresh = {entry.sha256: entry for entry in entries}
        with self._lock:
            self._by_hash = fresh

    def clear(self) -> None:
        self.replace(())

    def by_der(self, der: bytes) -> TrustEntry | None:
        return self.by_sha256(hashlib.sha256(der).hexdigest())

    def by_sha256(self, digest: str) -> TrustEntry | None:
        with self._lock:
            return self._by_hash.get(digest.lower())

    def by_issuer_serial(self, issuer: str | x509.Name, serial: int) -> TrustEntry | None:
        """The entry with this integer serial whose issuer normalises the same."""
        wanted = dn_key(issuer)
        return next((e for e in self.snapshot() if e.certificate.serial_number == serial
                     and e.issuer_key == wanted), None)

    def by_subject(self, subject: str | x509.Name) -> list[TrustEntry]:
        wanted = dn_key(subject)
        return [e for e in self.snapshot() if e.subject_key == wanted]

    def snapshot(self) -> tuple[TrustEntry, ...]:
        """A consistent copy, in insertion order."""
        with self._lock:
            return tuple(self._by_hash.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_hash)

    def __contains__(self, cert: object) -> bool:
        if isinstance(cert, x509.Certificate):
            return self.by_der(cert.public_bytes(Encoding.DER)) is not None
        return isinstance(cert, bytes) and self.by_der(cert) is not None
