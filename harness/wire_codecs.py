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
from harness.services import capf_wire, sccp_wire, tftp_files, tvs_wire
from harness.services import sip_message as sip
from harness.services.sip_register import RegisterFacts

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


def _sip_decode(data: bytes) -> object:
    """What the registrar does with bytes: frame, parse, and read a REGISTER's facts."""
    cut = sip.split_frame(data)
    message = sip.parse(cut[0] if cut else data)
    return RegisterFacts.read(message) if message.method == "REGISTER" else message


def _sip_samples() -> list[bytes]:
    register = (
        "REGISTER sip:192.0.2.10 SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 192.0.2.101:53006;branch=z9hG4bKd451a4fa\r\n"
        "From: <sip:5678@192.0.2.10>;tag=0011223344552c6644b6e5d2-f01c795a\r\n"
        "To: <sip:5678@192.0.2.10>\r\n"
        "Call-ID: 00112233-4455000a-44da4e09-0de51424@192.0.2.101\r\n"
        "Max-Forwards: 70\r\nCSeq: 11435 REGISTER\r\nUser-Agent: Cisco-CP7975G/9.3.1\r\n"
        'Contact: <sip:9e9e1ffb@192.0.2.101:53006;transport=tcp>;+sip.instance="<urn:uuid:'
        '00000000-0000-0000-0000-001122334455>";+u.sip!devicename.ccm.cisco.com='
        '"SEP001122334455";+u.sip!model.ccm.cisco.com="437"\r\n'
        'Reason: SIP;cause=200;text="cisco-alarm:23 Name=SEP001122334455 '
        'Load=SIP75.9-3-1 Last=reset-restart"\r\n'
        "Content-Length: 0\r\nExpires: 3600\r\n\r\n")
    notify = ("NOTIFY sip:5678@192.0.2.101:53006 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.10\r\n"
              "CSeq: 101 NOTIFY\r\nEvent: service-control\r\nContent-Length: 16\r\n\r\n"
              "action=restart\r\n")
    return [register.encode(), notify.encode()]


def _sccp_decode(data: bytes) -> object:
    """Every whole frame of a TCP chunk, decoded (the endpoint's read loop)."""
    decoded, rest = [], data
    while (cut := sccp_wire.split_frame(rest)) is not None:
        frame, rest = cut
        decoded.append(sccp_wire.decode(frame))
    return decoded


def _sccp_samples() -> list[bytes]:
    register = sccp_wire.Register("SEP001122334455", "192.0.2.101", device_type=434,
                                  protocol=17, max_streams=5, max_lines=2,
                                  mac="001122334455", load_name="SCCP42.9-4-2SR3-1S")
    alarm = sccp_wire.Alarm(2, "Name=SEP001122334455 Load=SCCP42.9-4-2SR3-1S Last=reset-reset")
    version = sccp_wire.header_version(17)
    return [sccp_wire.encode(register, version),
            sccp_wire.encode(sccp_wire.KeepAlive(), version) + sccp_wire.encode(alarm, version)]


CODECS: dict[str, Codec] = {c.name: c for c in [
    Codec("tftp", tftp_files.parse_request, _tftp_samples),
    Codec("tvs", _tvs_decode, _tvs_samples),
    Codec("capf", _capf_decode, _capf_samples),
    Codec("trustlist", trustlist.parse_trust_list, _trust_samples),
    Codec("sgn", sgn.parse_signed, _sgn_samples),
    Codec("enc", enc.parse_encrypted, _enc_samples),
    Codec("sip", _sip_decode, _sip_samples),
    Codec("sccp", _sccp_decode, _sccp_samples),
]}
