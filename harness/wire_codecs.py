"""Every decoder that reads bytes from the network or a file, in one index.

The rule each must keep: whatever the input, it returns a value or raises
`FormatError`, never anything else (an escaping `IndexError` or `UnicodeError`
would reach an endpoint's loop or a user's terminal as a traceback). The fuzz
benchmark and the property tests walk this index, so a codec added here is
fuzzed from then on; `samples()` gives well-formed frames to mutate, built with
the project's own encoders.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from harness.formats import enc, sgn, trustlist
from harness.services import capf_wire, tftp_files, tvs_wire

Decode = Callable[[bytes], object]


@dataclass(frozen=True)
class Codec:
    name: str
    decode: Decode
    samples: Callable[[], list[bytes]]


@dataclass(frozen=True)
class _Signer:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


@functools.cache
def _signer() -> _Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CUCM fuzz"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(0x1234567)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return _Signer(cert, key)


def _tftp_samples() -> list[bytes]:
    return [b"\x00\x01ITLFile.tlv\x00octet\x00",
            b"\x00\x01SEP001122334455.cnf.xml.sgn\x00octet\x00blksize\x001428\x00tsize\x000\x00",
            b"\x00\x02upload.bin\x00netascii\x00"]


def _tvs_decode(data: bytes) -> object:
    message = tvs_wire.parse_message(data)
    if message.header.command in (tvs_wire.Command.VERIFY_REQUEST,
                                  tvs_wire.Command.QUERY_REQUEST):
        return tvs_wire.decode_request(message)
    return tvs_wire.decode_response(message)


def _tvs_samples() -> list[bytes]:
    der = _signer().cert.public_bytes(Encoding.DER)
    return [tvs_wire.build_verify_request(7, "CP-7962-SEP001122334455", der),
            tvs_wire.build_query_request(8, "CP-7962-SEP001122334455", "CN=a;O=b", "CN=c;O=d",
                                         0x1234567),
            tvs_wire.build_response(2, 7, tvs_wire.Response(0, (7,), 3600, der))]


def _capf_decode(data: bytes) -> object:
    message = capf_wire.decode(data)
    for tag in (capf_wire.Tag.VERSION, capf_wire.Tag.REASON, capf_wire.Tag.AUTH_TYPE):
        message.number(tag)
    message.text(capf_wire.Tag.DEVICE_NAME)
    value = message.get(capf_wire.Tag.CERTIFICATE)
    if value is not None:
        capf_wire.unwrap_certificate(value)
    return message


def _capf_samples() -> list[bytes]:
    der = _signer().cert.public_bytes(Encoding.DER)
    tag, message = capf_wire.Tag, capf_wire.Message
    request: list[tuple[int, bytes]] = [(tag.VERSION, b"\x03"), (tag.AUTH_TYPE, b"\x02")]
    response: list[tuple[int, bytes]] = [
        (tag.VERSION, b"\x03"), (tag.DEVICE_NAME, capf_wire.zstring("SEP001122334455")),
        (tag.CERTIFICATE, capf_wire.wrap_certificate(der, 1))]
    return [capf_wire.encode(message(1, 1, request)), capf_wire.encode(message(2, 1, response))]


def _trust_samples() -> list[bytes]:
    signer = _signer()
    record = trustlist.Record.from_certificate(signer.cert, 1)
    return [trustlist.build_trust_list([record], signer, timestamp=1_700_000_000)]


def _sgn_samples() -> list[bytes]:
    return [sgn.sign_file(b"<device/>", _signer(), filename="SEP001122334455.cnf.xml.sgn",
                          timestamp=1_700_000_000)]


def _enc_samples() -> list[bytes]:
    signer = _signer()
    return [enc.encrypt_config(b"<device><fullConfig>true</fullConfig></device>", signer.cert,
                               signer, filename="SEP001122334455.cnf.xml.enc.sgn",
                               timestamp=1_700_000_000)]


CODECS: dict[str, Codec] = {c.name: c for c in [
    Codec("tftp", tftp_files.parse_request, _tftp_samples),
    Codec("tvs", _tvs_decode, _tvs_samples),
    Codec("capf", _capf_decode, _capf_samples),
    Codec("trustlist", trustlist.parse_trust_list, _trust_samples),
    Codec("sgn", sgn.parse_signed, _sgn_samples),
    Codec("enc", enc.parse_encrypted, _enc_samples),
]}
