"""Recognise a private key by its content, whatever its encoding or file name.

The file endpoints serve a directory or a published set to any phone on the lab
network; a key that lands there by mistake (a `.der` copied next to configs, a
PKCS#12 bundle, an OpenSSH key) must never leave. Names lie, so the bytes are
checked: PEM and OpenSSH armour by marker, DER (PKCS#1, SEC1, PKCS#8, encrypted
PKCS#8) by asking `cryptography` to load it, PKCS#12 by its fixed outer structure
(a password-protected bundle cannot be opened, but its shape is unmistakable).
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

_TEXT_MARKS = (b"PRIVATE KEY-----", b"PuTTY-User-Key-File-")
_DER_LIMIT = 16 * 1024  # keys are a few KiB; larger DER files (firmware) are not parsed
_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")  # OID 1.2.840.113549.1.7.1


def kind_of_private_key(data: bytes) -> str | None:
    """A short description of the key encoding found in `data`, or None if no key."""
    if any(mark in data for mark in _TEXT_MARKS):
        return "PEM/OpenSSH private key"
    if not data or data[0] != 0x30 or len(data) > _DER_LIMIT:
        return None
    if _looks_like_pkcs12(data):
        return "PKCS#12 bundle"
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:  # well-formed but encrypted: still a key
        return "encrypted DER private key"
    except (ValueError, UnsupportedAlgorithm):
        return None
    return "DER private key"


def _looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER 3, authSafe ContentInfo(pkcs7-data) … }."""
    header = data[:32]
    at = header.find(b"\x02\x01\x03\x30")
    return 0 < at <= 6 and _PKCS7_DATA in data[at : at + 24]
