"""`.loads` / `.sbn` files (docs/REAL_WIRE.md §5.2): layout, signature, hostile bodies."""

from __future__ import annotations

import pytest

from harness.firmware.example import example_files
from harness.firmware.names import image_names, term_names
from harness.firmware.signer import SERIAL, lab_firmware_key, lab_firmware_signer
from harness.formats.errors import FormatError
from harness.formats.header import parse_header, verify_signature
from harness.formats.loads import IMAGE_MAGIC, build_firmware_file, loads_body, parse_loads

LOAD = "SIP42.9-4-2SR3-1S"


def test_lab_firmware_key_is_the_same_on_every_run() -> None:
    key = lab_firmware_key()
    assert key.key_size == 2048
    assert key.public_key().public_numbers().n % 2 == 1
    assert example_files("7962", LOAD) == example_files("7962", LOAD)  # byte-identical
    assert lab_firmware_signer().cert.serial_number == SERIAL


def test_loads_header_is_version_1_2_sha1_rsa2048_with_own_name() -> None:
    files = example_files("7962", LOAD)
    data = files[f"{LOAD}.loads"]
    assert data[:5] == bytes.fromhex("0100020102")  # tag 1 version 1.2
    header = parse_header(data)
    assert (header.filename, header.digest.name, header.modulus_code) == (
        f"{LOAD}.loads", "SHA1", 2)
    assert header.header_length % 4 == 0
    assert verify_signature(data, header, lab_firmware_key().public_key())
    assert parse_loads(data).images == tuple(image_names(LOAD))


def test_term_loads_have_the_same_body_and_their_own_name() -> None:
    files = example_files("7962", LOAD)
    assert term_names("7962") == ["term42.default.loads", "term62.default.loads"]
    bodies = {files[n][parse_header(files[n]).header_length:] for n in
              [f"{LOAD}.loads", *term_names("7962")]}
    assert len(bodies) == 1
    assert parse_header(files["term62.default.loads"]).filename == "term62.default.loads"


def test_images_carry_the_archive_magic_behind_the_header() -> None:
    files = example_files("7962", LOAD)
    for name in image_names(LOAD):
        header = parse_header(files[name])
        assert files[name][header.header_length:].startswith(IMAGE_MAGIC)


def test_body_is_crlf_text_with_comments_blank_line_then_names() -> None:
    body = loads_body(LOAD, ["a.sbn", "b.sbn"])
    lines = body.split(b"\r\n")
    assert lines[0].startswith(b"#") and b"" in lines and lines[-3:] == [b"a.sbn", b"b.sbn", b""]
    parsed = parse_loads(build_firmware_file(body + b"c.sbn \r\n", lab_firmware_signer(),
                                             filename="x.loads"))
    assert parsed.images == ("a.sbn", "b.sbn", "c.sbn")  # trailing space tolerated


@pytest.mark.parametrize("body", [
    b"# only comments\r\n", b"../../etc/passwd\r\n", b"dir/image.sbn\r\n", b"\xff\xfe\r\n",
    b"a\x01b.sbn\r\n", b"".join(b"i%d.sbn\r\n" % i for i in range(65))])
def test_hostile_descriptors_are_format_errors(body: bytes) -> None:
    data = build_firmware_file(body, lab_firmware_signer(), filename="x.loads")
    with pytest.raises(FormatError):
        parse_loads(data)


@pytest.mark.parametrize("data", [b"", b"# plain text\r\nimage.sbn\r\n", b"\x01\x00\x02\x01"])
def test_unsigned_or_truncated_files_are_format_errors(data: bytes) -> None:
    with pytest.raises(FormatError):
        parse_loads(data)
