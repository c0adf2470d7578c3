"""Byte-layout pins: the worked example of docs/PROTOCOLS.md §1.6 and the §4.3 block.

These offsets were checked by hand against the spec tables; if an encoder change
moves one byte, an independent implementation would reject our files.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from harness.formats import (
    Digest,
    Record,
    Role,
    build_trust_list,
    encrypt_config,
    parse_encrypted,
    parse_signed,
    parse_trust_list,
    sign_file,
)

if TYPE_CHECKING:
    from conftest import Ident

STAMP = 0x65A1B2C4  # last byte deliberately not 0x0D
NAME = b"CN=SAST Test,O=Lab,OU=Test\x00"


def test_itl_worked_example_offsets(sast: Ident) -> None:
    record = Record.from_certificate(sast.cert, Role.SAST)
    data = build_trust_list([record], sast, timestamp=STAMP)
    expected = {
        0x000: "01 0002 0102",  # VERSION 1.2
        0x005: "02 0002 0180",  # HEADER_LENGTH 384
        0x00A: "1c 0002 0100",  # SIGNER_VERSION 1.0
        0x00F: "03 0043",  # SIGNER_INFO, 67 bytes of children
        0x012: "04 001b" + NAME.hex(),
        0x030: "06 001b" + NAME.hex(),
        0x04E: "05 0004 0a1b2c3d",
        0x055: "07 000f",
        0x058: "08 0001 01",
        0x05C: "09 0008",
        0x05F: "0a 0001 00",
        0x063: "0b 0001 02",
        0x067: "0c 0100",
        0x16A: "0e 000c" + b"ITLFile.tlv\x00".hex(),
        0x179: "0f 0004" + STAMP.to_bytes(4, "big").hex(),
    }
    for offset, text in expected.items():
        want = bytes.fromhex(text.replace(" ", ""))
        assert data[offset : offset + len(want)] == want, hex(offset)
    encoded = record.encode()
    assert data[0x180:0x185] == b"\x01\x00\x02" + len(encoded).to_bytes(2, "big")
    assert data[0x180:] == encoded
    # the signature covers the file with the 3+256 byte SIGNATURE TLV cut out (§1.5)
    signed = data[:0x067] + data[0x16A:]
    public = sast.cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(data[0x06A:0x16A], signed, padding.PKCS1v15(), hashes.SHA1())
    header = parse_trust_list(data).header
    assert (header.header_length, header.sig_offset, header.timestamp) == (0x180, 0x067, STAMP)


def test_record_is_written_in_certutils_tag_order(sast: Ident) -> None:
    encoded = Record.from_certificate(sast.cert, Role.SAST).encode()
    tags, lengths, off = [], {}, 0
    while off < len(encoded):
        tag, length = encoded[off], int.from_bytes(encoded[off + 1 : off + 3], "big")
        tags.append(tag)
        lengths[tag] = length
        off += 3 + length
    assert tags == [1, 3, 5, 6, 4, 7, 8, 9]
    assert lengths[7] == 270  # RSA-2048 as PKCS#1 RSAPublicKey
    assert lengths[8] == 256 and lengths[4] == 2 and lengths[6] == 4


def test_sgn_variant_has_one_pad_byte(tftp: Ident) -> None:
    body = b'<?xml version="1.0"?>\n<device/>\n'
    data = sign_file(body, tftp, filename="SEP001122334455.cnf.xml.sgn", timestamp=STAMP)
    assert data[:10] == bytes.fromhex("0100020100 0200020188".replace(" ", ""))  # 1.0, 392
    assert data[0x0A] == 3  # no SIGNER_VERSION in a .sgn
    assert data[391] == 0x0D and data[390] != 0x0D
    assert data[392:] == body
    parsed = parse_signed(data)
    assert parsed.header.signer_version is None
    assert parsed.header.filename == "SEP001122334455.cnf.xml.sgn"
    assert parsed.signer.subject == "CN=tftp.lab,O=Lab,OU=Test"
    assert parsed.signer.issuer == "CN=Lab CA,O=Lab,OU=Test"
    assert parsed.verify(tftp.cert)


def test_enc_block_lengths_for_rsa_2048(tftp: Ident, phone: Ident) -> None:
    xml = b"<device><fullConfig>true</fullConfig></device>"
    key, iv = bytes(range(16)), bytes(range(16, 32))
    name = "SEP001122334455.cnf.xml.enc.sgn"
    data = encrypt_config(xml, phone.cert, tftp, filename=name, timestamp=STAMP, aes_key=key, iv=iv)
    assert data[:5] == bytes.fromhex("0100020200")  # VERSION 2.0
    field = name.encode() + b"\x00"
    # the encryption block starts right after FILENAME (3 + len) and TIMESTAMP (7)
    o = data.index(b"\x0e\x00" + bytes([len(field)]) + field) + 3 + len(field) + 7
    pad = 16 - len(xml) % 16
    layout = [
        (0, "10 0132"),  # ENC_INFO 306
        (3, "11 001c"),  # ENC_IV_INFO 28
        (6, "12 0001 00"),
        (10, "13 0010" + iv.hex()),
        (29, "14 0002" + pad.to_bytes(2, "big").hex()),
        (34, "15 0110"),  # ENC_KEY_INFO 272
        (37, "16 0001 00"),
        (41, "17 0002 0800"),  # 8 x 256
        (46, "18 0001 01"),
        (50, "19 0100"),  # wrapped key, 256 bytes
        (309, "1a 0001 01"),
        (313, "1b 0014" + hashlib.sha1(xml).hexdigest()),
    ]
    for delta, text in layout:
        want = bytes.fromhex(text.replace(" ", ""))
        assert data[o + delta : o + delta + len(want)] == want, delta
    header_length = int.from_bytes(data[8:10], "big")
    assert header_length % 4 == 0 and set(data[o + 336 : header_length]) <= {0x0D}
    assert header_length - (o + 336) < 4
    # independent decryption with the primitives: xml then `pad` bytes of 0x0D
    wrapped = data[o + 53 : o + 53 + 256]
    assert isinstance(phone.key, rsa.RSAPrivateKey)
    assert phone.key.decrypt(wrapped, padding.PKCS1v15()) == key
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(data[header_length:]) + decryptor.finalize()
    assert plain == xml + b"\x0d" * pad
    parsed = parse_encrypted(data)
    assert parsed.enc.digest_algorithm is Digest.SHA1 and parsed.enc.key_size == 2048
