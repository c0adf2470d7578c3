"""TLS contexts for the cluster's endpoints and the twin's clients.

Phones authenticate servers by matching the presented certificate against
their ITL/CTL or through TVS, never by host name or CA chain (docs/PROTOCOLS.md
§5.1, §7.6), so client contexts disable the standard checks and callers
compare the peer certificate themselves. Servers accept TLS 1.0-1.2 with RSA
key exchange because older phone firmware needs it.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import warnings
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

# Everything the library still has, down to security level 0, minus unauthenticated
# suites: old phones (79xx) speak TLS 1.0 with RSA key exchange (docs/PROTOCOLS.md §5.1, §6.1).
LEGACY_CIPHERS = "ALL:!aNULL:!eNULL:@SECLEVEL=0"


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


def server_context(identity: TlsIdentity) -> ssl.SSLContext:
    """Server side: present `identity`, accept legacy phone TLS, ask no client cert."""
    context = _legacy(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    _load_identity(context, identity)
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
