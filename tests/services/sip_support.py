"""Test support for the SIP registrar: a small phone directory as policy, certificates
for SIP over TLS, and socket clients that read whole SIP messages."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness.events import EventLog
from harness.pki.identity import Identity
from harness.services import sip_message as sip
from harness.services.sip_binding import Admission

LINES = {"SEP001122334455": ("2222", "5678", "5679"), "SEP0022446688AA": ("6010",)}


def directory_policy(mixed: bool) -> object:
    """CUCM's rule over LINES; unknown devices auto-register unless `mixed`."""
    def policy(device: str, dn: str) -> Admission:
        lines = LINES.get(device)
        if lines is not None:
            if dn in lines:
                return Admission(200, "OK", lines)
            return Admission(403, f"{dn} is not a line of {device}", lines)
        if mixed:
            return Admission(403, "Auto-registration not supported in mixed mode")
        return Admission(200, "OK", (dn,))
    return policy


def make_identity(cn: str, issuer: Identity | None = None, *, ca: bool = False) -> Identity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=30)))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                        critical=True)
    signer = issuer.key if issuer else key
    assert isinstance(signer, rsa.RSAPrivateKey)
    return Identity(builder.sign(signer, hashes.SHA256()), key)


@dataclass(frozen=True)
class SipPki:
    callmanager: Identity  # the node's CallManager certificate (server)
    capf: Identity  # issuer of LSCs
    mfg: Identity  # issuer of MICs
    lsc: Identity  # SEP001122334455's LSC
    mic_other: Identity  # a MIC of SEP0022446688AA
    stranger: Identity  # self-signed, chains to nothing


def make_pki() -> SipPki:
    capf = make_identity("CAPF-lab", ca=True)
    mfg = make_identity("Cisco Manufacturing CA", ca=True)
    return SipPki(make_identity("cucm1.lab"), capf, mfg,
                  make_identity("SEP001122334455", capf),
                  make_identity("CP-7970-SEP0022446688AA", mfg), make_identity("SEP001122334455"))


def pem_files(identity: Identity, directory: str, stem: str) -> tuple[str, str]:
    """(cert.pem, key.pem) paths for tools that want files."""
    cert = f"{directory}/{stem}.crt"
    key = f"{directory}/{stem}.key"
    with open(cert, "wb") as out:
        out.write(identity.cert.public_bytes(serialization.Encoding.PEM))
    with open(key, "wb") as out:
        out.write(identity.key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.TraditionalOpenSSL,
                                             serialization.NoEncryption()))
    return cert, key


def read_messages(sock: socket.socket | ssl.SSLSocket, buffer: bytes = b"",
                  until_final: bool = True) -> tuple[list[sip.SipMessage], bytes]:
    """Messages off a stream until a final response (or a request) arrives."""
    messages: list[sip.SipMessage] = []
    while True:
        while (frame := sip.split_frame(buffer)) is not None:
            data, buffer = frame
            message = sip.parse(data)
            messages.append(message)
            if not until_final or message.status is None or message.status >= 200:
                return messages, buffer
        chunk = sock.recv(65535)
        if not chunk:
            return messages, buffer
        buffer += chunk


def stream_socket(server: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind(("127.0.0.1", 0))
    sock.connect(server)
    return sock


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    sock.bind(("127.0.0.1", 0))
    return sock


def wait_for(events: EventLog, kind: str, timeout: float = 3.0) -> list[Any]:
    """The events of `kind`, waiting (bounded) for the first: servers record after replying."""
    deadline = time.monotonic() + timeout
    while not events.of_kind(kind) and time.monotonic() < deadline:
        time.sleep(0.01)
    return events.of_kind(kind)
