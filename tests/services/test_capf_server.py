"""CAPF server + phone-side client over real TLS on loopback (docs/PROTOCOLS.md §6.5, §7.7)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator

import pytest
from capf_support import (
    PHONE,
    Ident,
    capf_ca,
    enroll,
    make_cert,
    mfg_ca,
    mic,
    rogue_cert,
    rsa_key,
    sub_issuer,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.capf import CapfEndpoint
from harness.services.capf_client import CapfClient, CapfUnavailable
from harness.services.capf_directory import CapfDirectory, DeviceRecord, Operation
from harness.services.capf_wire import AuthType, CertType


@pytest.fixture
def capf(events: EventLog, loop: BackgroundLoop,
         directory: CapfDirectory) -> Iterator[CapfEndpoint]:
    endpoint = CapfEndpoint(events, loop, capf_ca(), directory, verify_cas=[mfg_ca().cert],
                            timeout=2.0)
    with endpoint:
        yield endpoint


def last_session(events: EventLog) -> dict[str, object]:
    return events.wait_for(lambda e: e.kind == "capf.session", 2.0).data


def test_install_rsa_by_password_chains_to_issuer(
        events: EventLog, loop: BackgroundLoop, directory: CapfDirectory) -> None:
    issuer = sub_issuer()  # not self-signed: the LSC issuer must be its SUBJECT
    learned: list[DeviceRecord] = []
    directory.subscribe(learned.append)
    directory.add(PHONE, "install", "password", password="123456", key_size=1024)
    with CapfEndpoint(events, loop, capf_ca(), directory, issuer=issuer) as endpoint:
        result, client = enroll(endpoint.address, password="123456")
    assert (result.reason, result.error, result.session_id) == (1, None, 1)
    assert result.lsc is not None and client.lsc is result.lsc
    lsc = result.lsc.cert
    lsc.verify_directly_issued_by(issuer.cert)
    assert lsc.issuer == issuer.cert.subject != issuer.cert.issuer
    assert lsc.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == PHONE
    assert lsc.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "AU"
    assert isinstance(result.lsc.key, rsa.RSAPrivateKey) and result.lsc.key.key_size == 1024
    assert lsc.public_key() == result.lsc.key.public_key()
    assert isinstance(lsc.signature_hash_algorithm, hashes.SHA256)
    assert 0 < lsc.serial_number < 1 << 128
    assert lsc.extensions.get_extension_for_class(x509.BasicConstraints).critical
    assert not lsc.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = lsc.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    eku = list(lsc.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH,
                   ObjectIdentifier("1.3.6.1.5.5.7.3.5")]
    san = lsc.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [PHONE]
    record = directory.get(PHONE)
    assert record is not None and record.operation is Operation.NONE and record.certificate == lsc
    assert learned == [record]
    data = last_session(events)
    assert data["result"] == "installed" and data["reason"] == 1 and data["auth"] == "password"
    # the operation is now none: the next session is told "no action"
    with CapfEndpoint(events, loop, capf_ca(), directory, issuer=issuer) as endpoint:
        again, _ = enroll(endpoint.address, password="123456")
    assert (again.reason, again.session_id, again.lsc) == (0, 1, None)


@pytest.mark.parametrize("curve", [ec.SECP256R1, ec.SECP384R1])
def test_install_ec(capf: CapfEndpoint, directory: CapfDirectory,
                    curve: type[ec.EllipticCurve]) -> None:
    directory.add(PHONE, "install", curve=curve.name)
    result, _ = enroll(capf.address)
    assert result.reason == 1 and result.lsc is not None
    assert isinstance(result.lsc.key, ec.EllipticCurvePrivateKey)
    assert result.lsc.key.curve.name == curve.name
    result.lsc.cert.verify_directly_issued_by(capf_ca().cert)


def test_wrong_password_is_reason_7(capf: CapfEndpoint, directory: CapfDirectory,
                                    events: EventLog) -> None:
    directory.add(PHONE, "install", "password", password="1234")
    result, client = enroll(capf.address, password="4321")
    assert (result.reason, result.lsc, client.lsc) == (7, None, None)
    data = last_session(events)
    assert data["result"] == "auth_failed" and data["reason"] == 7
    assert directory.get(PHONE).operation is Operation.INSTALL  # type: ignore[union-attr]


def test_missing_password_is_reason_7(capf: CapfEndpoint, directory: CapfDirectory) -> None:
    directory.add(PHONE, "none", "password", password="1234")
    assert enroll(capf.address)[0].reason == 7


def test_unknown_device_is_reason_9(capf: CapfEndpoint, events: EventLog) -> None:
    result, _ = enroll(capf.address, device="SEPAABBCCDDEEFF")
    assert result.reason == 9 and result.reason_words == "unknown device"
    event = events.wait_for(lambda e: e.kind == "capf.session", 2.0)
    assert event.phone == "SEPAABBCCDDEEFF" and event.data["result"] == "unknown_device"


def test_null_string_announced_when_phone_known_by_address(
        capf: CapfEndpoint, directory: CapfDirectory, events: EventLog) -> None:
    directory.add(PHONE, "install", "no password", key_size=1024)
    events.bind_address("127.0.2.7", PHONE)
    result, _ = enroll(capf.address, local_host="127.0.2.7", password="9999")
    assert result.auth_type == AuthType.NULL_STRING and result.reason == 1


def test_key_generation_failure_is_reason_7(capf: CapfEndpoint, directory: CapfDirectory,
                                            events: EventLog) -> None:
    directory.add(PHONE, "install", key_size=512)  # the client's library refuses RSA-512
    result, client = enroll(capf.address)
    assert (result.reason, client.lsc) == (7, None)
    assert last_session(events)["result"] == "keygen_failed"


def test_password_type_announced_or_zero_like_capfd(
        events: EventLog, loop: BackgroundLoop, directory: CapfDirectory) -> None:
    directory.add(PHONE, "none", "password", password="2468")
    events.bind_address("127.0.2.8", PHONE)
    for zero, expected in ((False, AuthType.PASSWORD), (True, AuthType.NONE)):
        with CapfEndpoint(events, loop, capf_ca(), directory, auth_type_zero=zero) as endpoint:
            result, _ = enroll(endpoint.address, local_host="127.0.2.8", password="2468")
        assert (result.auth_type, result.reason) == (expected, 0)


def test_certificate_auth_with_mic_and_fetch_returns_mic(
        capf: CapfEndpoint, directory: CapfDirectory, events: EventLog) -> None:
    directory.add(PHONE, "fetch", "certificate")
    result, _ = enroll(capf.address, mic=mic())
    assert (result.reason, result.fetched) == (0, CertType.MIC)
    record = directory.get(PHONE)
    assert record is not None and record.certificate == mic().cert
    assert record.certificate_type is CertType.MIC and record.operation is Operation.NONE
    assert last_session(events)["result"] == "fetched"


def test_certificate_auth_with_lsc_then_fetch_and_delete(
        capf: CapfEndpoint, directory: CapfDirectory) -> None:
    directory.add(PHONE, "install", "no password", key_size=1024)
    installed, client = enroll(capf.address)
    assert installed.lsc is not None
    directory.update(PHONE, operation="fetch", auth="certificate", auth_type=AuthType.LSC)
    fetched, _ = enroll(capf.address, lsc=client.lsc, mic=mic())
    assert (fetched.reason, fetched.fetched) == (0, CertType.LSC)
    assert directory.get(PHONE).certificate == installed.lsc.cert  # type: ignore[union-attr]
    directory.update(PHONE, operation="delete")
    deleted, phone = enroll(capf.address, lsc=client.lsc)
    assert (deleted.reason, deleted.deleted, phone.lsc) == (1, True, None)
    record = directory.get(PHONE)
    assert record is not None and record.certificate is None and record.operation is Operation.NONE


def test_ec_lsc_authenticates(capf: CapfEndpoint, directory: CapfDirectory) -> None:
    directory.add(PHONE, "install", curve="secp256r1")
    installed, client = enroll(capf.address)
    assert installed.lsc is not None and installed.lsc.cert.signature_hash_algorithm is not None
    directory.update(PHONE, operation="none", auth="certificate")
    assert enroll(capf.address, lsc=client.lsc)[0].reason == 0


CREDENTIALS: dict[str, Callable[[], dict[str, object]]] = {
    "unknown-ca": lambda: {"lsc": rogue_cert()},
    "no-certificate": lambda: {"password": "1234"},
    "wrong-key": lambda: {"mic": Ident(mic().cert, rsa_key("other", 1024))},
}


@pytest.mark.parametrize("who", sorted(CREDENTIALS))
def test_certificate_auth_failures_are_reason_7(
        capf: CapfEndpoint, directory: CapfDirectory, events: EventLog, who: str) -> None:
    directory.add(PHONE, "fetch", "certificate")
    result, _ = enroll(capf.address, **CREDENTIALS[who]())
    assert result.reason == 7
    assert last_session(events)["result"] == "auth_failed"


def test_sudi_is_checked_when_present(capf: CapfEndpoint, directory: CapfDirectory) -> None:
    directory.add(PHONE, "none", "certificate")
    good_sudi = make_cert("SUDI " + PHONE, rsa_key("sudi", 1024), mfg_ca())
    assert enroll(capf.address, mic=mic(), sudi=good_sudi)[0].reason == 0
    bad_sudi = make_cert("SUDI " + PHONE, rsa_key("sudi", 1024))  # self-signed: unknown CA
    assert enroll(capf.address, mic=mic(), sudi=bad_sudi)[0].reason == 7


def test_client_fails_over_and_reports_unreachable(capf: CapfEndpoint,
                                                   directory: CapfDirectory) -> None:
    directory.add(PHONE, "none")
    other = make_cert("Other CAPF", rsa_key("other-capf"), ca=True)
    trusted = capf_ca().der
    closed = ("127.0.0.1", 1)
    with socket.create_server(("127.0.0.1", 0)) as mute:  # accepts TCP, never speaks TLS
        servers = [closed, mute.getsockname(), capf.address]
        client = CapfClient(PHONE, servers, lambda der: der == trusted, timeout=0.3)
        result = asyncio.run(client.run())
    assert result.reason == 0 and result.server == capf.address
    distrust = CapfClient(PHONE, [closed, capf.address], lambda der: der == other.der)
    with pytest.raises(CapfUnavailable, match="not trusted"):
        asyncio.run(distrust.run())


def test_restart_uses_a_regenerated_certificate(events: EventLog, loop: BackgroundLoop,
                                                directory: CapfDirectory) -> None:
    directory.add(PHONE, "install", key_size=1024)
    with CapfEndpoint(events, loop, capf_ca(), directory) as endpoint:
        port = endpoint.port
        endpoint.identity = regenerated = make_cert("CAPF-2", rsa_key("capf-2"), ca=True)
        endpoint.restart()
        result, _ = enroll(endpoint.address, trust=regenerated)
    assert endpoint.address[1] == port and result.lsc is not None
    result.lsc.cert.verify_directly_issued_by(regenerated.cert)
