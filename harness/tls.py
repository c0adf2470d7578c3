"""TLS contexts for the cluster's endpoints and the twin's clients.

Phones authenticate servers by matching the presented certificate against
their ITL/CTL or through TVS, never by host name or CA chain (docs/PROTOCOLS.md
§5.1, §7.6), so client contexts disable the standard checks and callers
compare the peer certificate themselves, and accept whatever a server offers.

Servers offer what the cluster's release offered phones (`TlsPolicy`, chosen per
release and overridable in the topology's `cluster.tls`): CUCM 8.x-11.x accept
TLS 1.0 with RSA key exchange AES-CBC-SHA suites, which 79xx firmware needs
(docs/PROTOCOLS.md §5.1; docs/REAL_WIRE.md §1); 12.x and later require TLS 1.2.
Every TLS endpoint (TVS, CAPF, HTTPS, SIP and SCCP over TLS) builds its context
here, so one policy governs them all. The choices: docs/DESIGN.md "TLS as the
release offers it".
"""

from __future__ import annotations

import functools
import os
import re
import ssl
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

# Everything the library still has, down to security level 0, minus unauthenticated
# suites: what the twin's phones (clients) are willing to speak, old firmware included.
LEGACY_CIPHERS = "ALL:!aNULL:!eNULL:@SECLEVEL=0"
VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2}
# RSA key exchange, AES-CBC, SHA-1 MAC: what CUCM 8.x negotiated with phones (79xx
# firmware: TLS 1.0 only; newer firmware: AES256-SHA, docs/PROTOCOLS.md §5.1)
CUCM8_SUITES = ("AES128-SHA", "AES256-SHA")
# 12.x (TLS 1.2 minimum): the GCM and SHA-256 suites as well, ECDHE first, RSA kept
CUCM12_SUITES = ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                 "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA256", "AES256-SHA256",
                 "AES128-SHA", "AES256-SHA")
_SUITE = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")


class TlsPolicyError(ValueError):
    """A minimum version or suite list no TLS server here can offer."""


@dataclass(frozen=True)
class TlsPolicy:
    """What a server accepts: TLS `minimum`..1.2 and these OpenSSL suite names (TLS 1.3
    is never offered: no CUCM release of the phones under test spoke it)."""

    minimum: str = "1.0"
    suites: tuple[str, ...] = CUCM8_SUITES

    def __post_init__(self) -> None:
        if self.minimum not in VERSIONS:
            raise TlsPolicyError(f"TLS minimum version {self.minimum!r}: use one of "
                                 f"{', '.join(VERSIONS)}")
        if not self.suites:
            raise TlsPolicyError("TLS suites: at least one")
        bad = [suite for suite in self.suites if not _SUITE.match(suite)]
        if bad:
            raise TlsPolicyError(f"TLS suites: {', '.join(map(repr, bad))} are not OpenSSL "
                                 "suite names (e.g. AES128-SHA)")
        unknown = [suite for suite in self.suites if not _known_suite(suite)]
        if unknown:
            raise TlsPolicyError(f"TLS suites: {', '.join(unknown)} unknown to this "
                                 f"host's OpenSSL ({ssl.OPENSSL_VERSION})")

    @classmethod
    def for_release(cls, major: int, minor: int = 0) -> TlsPolicy:
        """The release's own offer: 8.x-11.x TLS 1.0 + AES-CBC-SHA, 12.x on TLS 1.2."""
        if major >= 12:
            return cls("1.2", CUCM12_SUITES)
        return cls("1.0", CUCM8_SUITES)

    @classmethod
    def configured(cls, major: int, minor: int, minimum: str | None,
                   suites: Sequence[str] | None) -> TlsPolicy:
        """The release's offer with the topology's `minimum_version`/`suites` put over it."""
        base = cls.for_release(major, minor)
        return cls(minimum or base.minimum, tuple(suites) if suites else base.suites)

    @property
    def cipher_string(self) -> str:
        return ":".join(self.suites) + ":@SECLEVEL=0"  # SHA-1, 1024-bit lab keys, TLS 1.0

    def apply(self, context: ssl.SSLContext) -> ssl.SSLContext:
        with warnings.catch_warnings():  # TLS 1.0 is deprecated, and deliberately allowed
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = VERSIONS[self.minimum]
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(self.cipher_string)
        return context

    def __str__(self) -> str:
        return f"TLS {self.minimum}-1.2, {':'.join(self.suites)}"


@dataclass(frozen=True)
class TlsChoice:
    """The topology's `cluster.tls`: what it overrides of the release's offer (None: keep)."""

    minimum: str | None = None
    suites: tuple[str, ...] | None = None

    def policy(self, major: int, minor: int = 0) -> TlsPolicy:
        return TlsPolicy.configured(major, minor, self.minimum, self.suites)


@functools.lru_cache(maxsize=256)  # policies are built per SIP-TLS connection
def _known_suite(name: str) -> bool:
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        probe.set_ciphers(f"{name}:@SECLEVEL=0")
    except ssl.SSLError:
        return False
    return any(c["name"] == name for c in probe.get_ciphers())


DEFAULT_POLICY = TlsPolicy.for_release(8, 0)


class TlsIdentity(Protocol):
    """Anything holding a certificate and its key (a pki.Identity qualifies)."""

    @property
    def cert(self) -> x509.Certificate: ...

    @property
    def key(self) -> PrivateKeyTypes: ...


def _load_identity(context: ssl.SSLContext, identity: TlsIdentity) -> None:
    """`ssl` only loads keys from files: write a 0600 temporary PEM and remove it."""
    pem = identity.cert.public_bytes(serialization.Encoding.PEM) + identity.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        os.write(fd, pem)
        os.close(fd)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


def _legacy(context: ssl.SSLContext) -> ssl.SSLContext:
    """TLS 1.0-1.2 at security level 0, as phones and CUCM negotiate it."""
    with warnings.catch_warnings():  # TLS 1.0 is deprecated, and deliberately allowed here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(LEGACY_CIPHERS)
    return context


def server_context(identity: TlsIdentity, policy: TlsPolicy = DEFAULT_POLICY
                   ) -> ssl.SSLContext:
    """Server side: present `identity`, accept what `policy` allows, ask no client cert
    (signalling endpoints then require one: `require_client_certificates`)."""
    context = policy.apply(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    _load_identity(context, identity)
    return context


def require_client_certificates(context: ssl.SSLContext,
                                cas: Sequence[x509.Certificate]) -> ssl.SSLContext:
    """Mixed-mode signalling: the phone must present a certificate (LSC or MIC) issued
    by one of `cas`, else the handshake fails (docs/REAL_WIRE.md §1.1, §3.6)."""
    context.verify_mode = ssl.CERT_REQUIRED
    if cas:
        context.load_verify_locations(cadata="".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in cas))
    return context


def client_context(identity: TlsIdentity | None = None) -> ssl.SSLContext:
    """Phone side: no chain or name check (the caller judges the peer certificate)."""
    context = _legacy(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if identity is not None:
        _load_identity(context, identity)
    return context


def peer_certificate(obj: ssl.SSLSocket | ssl.SSLObject) -> bytes:
    """The DER certificate the peer presented (empty when none)."""
    return obj.getpeercert(binary_form=True) or b""
