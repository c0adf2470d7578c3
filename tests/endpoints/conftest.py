"""Fixtures for the HTTPS and registrar endpoint tests: a loop, a timeline, an identity."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness.aio import BackgroundLoop
from harness.events import EventLog


@dataclass(frozen=True)
class SelfSigned:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def self_signed(common_name: str) -> SelfSigned:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return SelfSigned(cert, key)


@pytest.fixture(scope="session")
def tomcat() -> SelfSigned:
    return self_signed("cucm1.lab-tomcat")


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    with BackgroundLoop() as background:
        yield background


@pytest.fixture
def events() -> EventLog:
    return EventLog()
