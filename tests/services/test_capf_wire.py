"""Pure parts of CAPF: codec, raw signatures, LSC profile, device directory."""

from __future__ import annotations

import hashlib
import struct
import threading

import pytest
from capf_support import PHONE, capf_ca, mfg_ca, mic, rogue_cert, rsa_key
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from harness.errors import UsageError
from harness.formats.errors import FormatError
from harness.services import capf_auth, capf_wire
from harness.services.capf_directory import CapfDirectory, DeviceRecord, Operation
from harness.services.capf_issue import issue_lsc, key_request
from harness.services.capf_wire import AuthType, Command, Message, SudiData, Tag


def test_frame_layout_and_round_trip() -> None:
    message = Message(Command.AUTH_REQUEST, 0x01020304, [(Tag.VERSION, b"\x03"),
                                                         (Tag.AUTH_TYPE, b"\x01")])
    data = capf_wire.encode(message)
    assert data == bytes.fromhex("55 01 01020304 0008 07 0001 03 08 0001 01")
    assert capf_wire.decode(data) == message
    assert capf_wire.decode(data).number(Tag.AUTH_TYPE) == AuthType.PASSWORD


def test_rsa_key_request_bytes_match_capfd_order() -> None:
    payload = capf_wire.tlvs(key_request(2048, None))
    assert payload == bytes.fromhex("0a 0002 0800 11 0001 00")
    assert capf_wire.tlvs(key_request(2048, "secp384r1")) == bytes.fromhex("11000101 12000101")


def test_zstring_and_lenient_text() -> None:
    message = Message(2, 1, [(Tag.DEVICE_NAME, capf_wire.zstring(PHONE)), (Tag.PASSWORD, b"12")])
    assert message.get(Tag.DEVICE_NAME) == PHONE.encode() + b"\0"
    assert message.text(Tag.DEVICE_NAME) == PHONE and message.text(Tag.PASSWORD) == "12"
    assert message.text(Tag.SIGNED_DATA) is None


@pytest.mark.parametrize(("data", "offset"), [
    (b"\x55\x01\x00", 3),  # truncated header
    (bytes.fromhex("54 01 00000001 0000"), 0),  # wrong protocol id
    (bytes.fromhex("55 01 00000001 0004 07 0005 03"), 8),  # element overruns
    (bytes.fromhex("55 01 00000001 0002 07 00"), 8),  # truncated element header
    (bytes.fromhex("55 01 00000001 0000 ff"), 8),  # trailing byte
])
def test_malformed_frames_raise_format_error(data: bytes, offset: int) -> None:
    with pytest.raises(FormatError) as caught:
        capf_wire.decode(data)
    assert caught.value.offset == offset


def test_wrong_sized_number_is_format_error() -> None:
    with pytest.raises(FormatError):
        Message(1, 1, [(Tag.REASON, b"\x00\x01")]).number(Tag.REASON)


def test_certificate_wrapper() -> None:
    der = mic().der
    wrapped = capf_wire.wrap_certificate(der, 2)
    assert wrapped[:5] == b"\x01" + struct.pack(">H", len(der) + 2) + b"\x00\x02"
    assert capf_wire.unwrap_certificate(wrapped) == (2, der)
    for bad in (wrapped[:-1], b"\x02" + wrapped[1:], b"\x01\x00"):
        with pytest.raises(FormatError):
            capf_wire.unwrap_certificate(bad)


def test_sha2_and_sudi_layouts() -> None:
    assert capf_wire.sha2_signed(b"\xaa\xbb") == bytes.fromhex("03 0002 aabb")
    assert capf_wire.parse_sha2_signed(bytes.fromhex("03 0002 aabb")) == (3, b"\xaa\xbb")
    sudi = SudiData(b"C", b"S1", b"S5")
    assert sudi.encode() == bytes.fromhex("00 0001 43 01 0002 5331 03 0002 5335")
    assert SudiData.parse(sudi.encode()) == sudi
    with pytest.raises(FormatError):
        SudiData.parse(bytes.fromhex("00 0001 43"))
    with pytest.raises(FormatError):
        capf_wire.parse_sha2_signed(b"\x03\x00")


def test_raw_rsa_signature_is_bare_digest_block() -> None:
    key = rsa_key("mic")
    data = capf_auth.auth_data(PHONE, mic().der)
    assert data == PHONE.encode() + b"\0" + mic().der
    for algorithm in ("sha1", "sha512"):
        signature = capf_auth.sign(key, data, algorithm)
        numbers = key.public_key().public_numbers()
        block = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")
        digest = hashlib.new(algorithm, data).digest()
        assert block == b"\x00\x01" + b"\xff" * (256 - 3 - len(digest)) + b"\x00" + digest
        assert capf_auth.verify(key.public_key(), data, signature, algorithm)
        assert not capf_auth.verify(key.public_key(), data + b"x", signature, algorithm)
    wrapped = key.sign(data, padding.PKCS1v15(), hashes.SHA1())  # DigestInfo form: tolerated
    assert capf_auth.verify(key.public_key(), data, wrapped, "sha1")
    assert not capf_auth.verify(key.public_key(), data, b"\x00" * 5, "sha1")


def test_ec_signature_and_chain_checks() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signature = capf_auth.sign(key, b"data", "sha512")
    assert capf_auth.verify(key.public_key(), b"data", signature, "sha512")
    assert not capf_auth.verify(key.public_key(), b"data", signature, "sha1")
    assert capf_auth.issued_by_any(mic().cert, [capf_ca().cert, mfg_ca().cert])
    assert not capf_auth.issued_by_any(mic().cert, [capf_ca().cert])
    assert not capf_auth.issued_by_any(rogue_cert().cert, [capf_ca().cert, mfg_ca().cert])


def test_sudi_signed_data_uses_little_endian_session_id() -> None:
    assert capf_auth.sudi_data(0x01020304, b"X") == b"\x04\x03\x02\x01X"


def test_lsc_validity_bounds() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    cert = issue_lsc(capf_ca(), PHONE, key, days=1)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 1
    for days in (0, 3561):
        with pytest.raises(UsageError):
            issue_lsc(capf_ca(), PHONE, key, days=days)


@pytest.mark.parametrize("options", [
    {"name": "SEP123"}, {"name": PHONE, "auth": "password"},
    {"name": PHONE, "auth": "password", "password": "12ab"}, {"name": PHONE, "key_size": 1000},
    {"name": PHONE, "curve": "secp999r1"}, {"name": PHONE, "operation": "renew"},
    {"name": PHONE, "auth": "no password", "auth_type": AuthType.PASSWORD},
])
def test_device_record_validation(options: dict[str, object]) -> None:
    with pytest.raises((UsageError, ValueError)):
        DeviceRecord(**options)  # type: ignore[arg-type]


def test_directory_normalises_names_and_defaults_auth_type() -> None:
    directory = CapfDirectory()
    record = directory.add(PHONE.lower(), "install", "certificate")
    assert record.name == PHONE and directory.get(PHONE.lower()) is record
    assert record.protocol_auth_type is AuthType.LSC
    assert directory.update(PHONE, auth_type=AuthType.MIC).protocol_auth_type is AuthType.MIC
    with pytest.raises(UsageError):
        directory.update("SEPAABBCCDDEEFF", operation="delete")
    directory.remove(PHONE)
    assert directory.records() == []


def test_directory_is_thread_safe_and_notifies() -> None:
    directory = CapfDirectory(DeviceRecord(f"SEP0000000000{i:02X}", "install") for i in range(64))
    seen: list[str] = []
    directory.subscribe(lambda record: seen.append(record.name))
    threads = [threading.Thread(target=directory.deleted, args=(r.name,))
               for r in directory.records()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == sorted(r.name for r in directory.records())
    assert all(r.operation is Operation.NONE for r in directory.records())
