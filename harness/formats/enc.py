"""Encrypted phone configs (.enc.sgn) and their short stub config (docs/PROTOCOLS.md §4).

Encryption is where interoperability breaks quietly: the 0x0D padding is not
PKCS#7, the digest covers the plaintext before padding, and the encryption block
has a fixed layout (§4.3). Doing it by hand with `cryptography` primitives (there
is no library for this Cisco format) keeps those rules in one place. Key choice is
the caller's business: `decrypt` takes the device key and never picks one itself.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding

from harness.errors import UsageError
from harness.formats.digest import Digest
from harness.formats.errors import FormatError, VerificationError
from harness.formats.header import EncBlock, Header, Signer, build_signed, parse_header
from harness.formats.names import tlv
from harness.formats.sgn import SignedFile

PAD = b"\x0d"
STUB_COPIED = ("ipAddressMode", "loadInformation", "capfAuthMode", "capfList")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class EncryptedConfig(SignedFile):
    """A parsed .enc.sgn: the signed container plus its encryption block."""

    enc: EncBlock = field(kw_only=True)

    def decrypt(self, device_key: PrivateKeyTypes) -> bytes:
        """Unwrap the AES key, decrypt, drop ENC_PADDING bytes, check the digest (§4.4)."""
        if not isinstance(device_key, rsa.RSAPrivateKey):
            raise VerificationError("only an RSA device key can unwrap the AES key")
        try:
            key = device_key.decrypt(self.enc.wrapped_key, padding.PKCS1v15())
        except ValueError:
            raise VerificationError("the device key does not unwrap the AES key") from None
        if len(key) != 16:
            raise VerificationError("the device key does not unwrap an AES-128 key")
        if not self.body or len(self.body) % 16:
            raise VerificationError("ciphertext is not a whole number of 16-byte blocks")
        decryptor = Cipher(algorithms.AES(key), modes.CBC(self.enc.iv)).decryptor()
        plain = decryptor.update(self.body) + decryptor.finalize()
        if self.enc.padding > len(plain):
            raise VerificationError(f"ENC_PADDING {self.enc.padding} exceeds the plaintext")
        plain = plain[: len(plain) - self.enc.padding]
        if not hmac.compare_digest(self.enc.digest_algorithm.hash(plain), self.enc.digest):
            raise VerificationError("plaintext digest mismatch (wrong key or tampered file)")
        return plain


def encrypt_config(
    xml: bytes,
    device_cert: x509.Certificate,
    signer: Signer,
    *,
    filename: str,
    digest: Digest = Digest.SHA1,
    timestamp: int | None = None,
    aes_key: bytes | None = None,
    iv: bytes | None = None,
) -> bytes:
    """Encrypt `xml` for the device's RSA key and sign (VERSION 2.0 header, §4.3).

    `aes_key`/`iv` default to fresh random bytes; pass them only for fixed vectors.
    """
    device_key = device_cert.public_key()
    if not isinstance(device_key, rsa.RSAPublicKey):
        raise UsageError("config encryption needs an RSA device certificate: the AES key is "
                         "wrapped with the phone's RSA key (enroll the phone with an RSA LSC)")
    key, iv = aes_key or os.urandom(16), iv or os.urandom(16)
    if len(key) != 16 or len(iv) != 16:
        raise UsageError("AES-128-CBC needs a 16-byte key and a 16-byte IV")
    pad = 16 - len(xml) % 16
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(xml + PAD * pad) + encryptor.finalize()
    wrapped = device_key.encrypt(key, padding.PKCS1v15())
    iv_info = tlv(18, b"\x00") + tlv(19, iv) + tlv(20, pad.to_bytes(2, "big"))
    key_info = tlv(22, b"\x00") + tlv(23, (8 * len(wrapped)).to_bytes(2, "big"))
    key_info += tlv(24, b"\x01") + tlv(25, wrapped)
    block = tlv(16, tlv(17, iv_info) + tlv(21, key_info))
    block += tlv(26, bytes((digest,))) + tlv(27, digest.hash(xml))
    return build_signed(ciphertext, signer, version=(2, 0), filename=filename, digest=digest,
                        timestamp=timestamp, extra=block)


def parse_encrypted(data: bytes) -> EncryptedConfig:
    """Decode a .enc.sgn; FormatError when malformed or without an encryption block."""
    header: Header = parse_header(data)
    if header.enc is None:
        raise FormatError("not an encrypted config: no encryption block", header.header_length)
    return EncryptedConfig(header, data[header.header_length :], data, enc=header.enc)


def cert_hash(cert: x509.Certificate) -> str:
    """`certHash` of the stub: lower-case hex MD5 of the device certificate DER (§4.2)."""
    der = cert.public_bytes(Encoding.DER)
    return hashlib.md5(der, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Stub:
    """What a phone reads from a (short or full) config to decide about encryption."""

    encrypted: bool
    cert_hash: str | None
    full_config: bool
    capf_auth_mode: int | None


def stub_config(full_xml: bytes, device_cert: x509.Certificate | None) -> bytes:
    """The short config served as SEP<MAC>.cnf.xml(.sgn) beside the .enc.sgn (§4.2).

    With no device certificate yet (the phone never enrolled), certHash is empty:
    the phone then reports "public key mismatch" and starts a CAPF session (§7.4).
    """
    root = _parse_xml(full_xml)
    stub = ET.Element("device")
    ET.SubElement(stub, "fullConfig").text = "false"
    for child in root:
        if child.tag in STUB_COPIED:
            stub.append(copy.deepcopy(child))
            stub[-1].tail = None
    ET.SubElement(stub, "certHash").text = cert_hash(device_cert) if device_cert else ""
    ET.SubElement(stub, "encrConfig").text = "true"
    ET.indent(stub, space="  ")
    return XML_DECLARATION + ET.tostring(stub, encoding="unicode").encode("utf-8") + b"\n"


def parse_stub(xml: bytes) -> Stub:
    """Read fullConfig, encrConfig, certHash and capfAuthMode from a config root."""
    return stub_of(_parse_xml(xml))


def stub_of(root: ET.Element) -> Stub:
    """The stub fields of a config already parsed (a phone reads each config once)."""

    def text(tag: str) -> str | None:
        element = root.find(tag)
        return None if element is None or element.text is None else element.text.strip()

    mode = text("capfAuthMode")
    return Stub(
        encrypted=(text("encrConfig") or "").lower() == "true",
        cert_hash=(text("certHash") or "").lower() or None,
        full_config=(text("fullConfig") or "").lower() != "false",
        capf_auth_mode=int(mode) if mode and mode.isascii() and mode.isdigit() else None,
    )


def _parse_xml(xml: bytes) -> ET.Element:
    try:
        return ET.fromstring(xml)
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise FormatError(f"not well-formed XML: {exc}") from None
