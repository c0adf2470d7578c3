"""The twin's pure firmware-load rules (docs/REAL_WIRE.md §5.3)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.firmware.example import example_files
from harness.firmware.names import factory_load, image_names
from harness.firmware.signer import lab_firmware_signer
from harness.formats.loads import build_firmware_file
from phone_drivers.emulator.firmware_load import (
    AUTH_FAILED,
    LoadRejected,
    check_image,
    check_loads,
    wanted_load,
)

LOAD = "SIP42.9-4-2SR3-1S"


@pytest.mark.parametrize(("running", "config", "wanted"), [
    ("SIP42.9-3-1SR4-1S", LOAD, LOAD), (LOAD, LOAD, None), (LOAD, "", None),
    (LOAD, None, None), (LOAD, "  ", None), (LOAD, f" {LOAD} ", None)])
def test_wanted_load(running: str, config: str | None, wanted: str | None) -> None:
    assert wanted_load(running, config) == wanted


def test_factory_loads_differ_from_the_example_load_under_test() -> None:
    assert factory_load("7962", "SIP") == "SIP42.9-3-1SR4-1S"
    assert factory_load("7942", "SCCP") == "SCCP42.9-3-1SR4-1S"
    assert factory_load("8845", "SIP").startswith("sip8845_65.")
    assert factory_load("7960", "SCCP") == "P0030801SR02"


def test_good_files_pass() -> None:
    files = example_files("7962", LOAD)
    assert check_loads(f"{LOAD}.loads", files[f"{LOAD}.loads"]) == tuple(image_names(LOAD))
    for image in image_names(LOAD):
        check_image(image, files[image])


def test_file_served_under_another_name_fails_auth() -> None:
    files = example_files("7962", LOAD)
    with pytest.raises(LoadRejected) as info:
        check_image("dsp42.other.sbn", files[image_names(LOAD)[3]])
    assert info.value.reason == AUTH_FAILED and "header names" in info.value.detail


def test_tampered_image_fails_auth() -> None:
    name = image_names(LOAD)[1]
    data = bytearray(example_files("7962", LOAD)[name])
    data[-1] ^= 0xFF
    with pytest.raises(LoadRejected, match="signature"):
        check_image(name, bytes(data))


def test_files_signed_by_another_key_fail_auth() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(LoadRejected, match="signature"):
        check_loads(f"{LOAD}.loads", example_files("7962", LOAD)[f"{LOAD}.loads"],
                    other.public_key())


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x01\x00\x02\x01\x02\x02\x00\x02\xff\xff"])
def test_malformed_files_fail_auth_not_crash(data: bytes) -> None:
    with pytest.raises(LoadRejected, match="malformed"):
        check_loads("x.loads", data)
    with pytest.raises(LoadRejected, match="malformed"):
        check_image("x.sbn", data)


def test_verified_descriptor_with_bad_body_fails_auth() -> None:
    data = build_firmware_file(b"../x.sbn\r\n", lab_firmware_signer(), filename="x.loads")
    with pytest.raises(LoadRejected, match="bad load descriptor"):
        check_loads("x.loads", data)


