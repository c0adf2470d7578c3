"""The TFTP serving policy without sockets: request parsing, names, private keys, sources."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.formats.errors import FormatError
from harness.services.tftp_files import (
    RRQ,
    WRQ,
    ChainSource,
    DirectorySource,
    MappingSource,
    NameDenied,
    fetch,
    normalise_name,
    parse_request,
    printable,
    refuse_private,
    supported_options,
)

KEY_PEM = b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
CERT_PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_parse_request_reads_name_mode_and_options() -> None:
    packet = b"\x00\x01ITLFile.tlv\x00OCTET\x00BLKSIZE\x001024\x00tsize\x000\x00"
    assert parse_request(packet) == (RRQ, "ITLFile.tlv", {"blksize": "1024", "tsize": "0"})
    assert parse_request(b"\x00\x02up.bin\x00netascii\x00")[0] == WRQ


def test_parse_request_keeps_a_nul_smuggled_into_the_name() -> None:
    _, name, _ = parse_request(b"\x00\x01ITLFile.tlv\x00../../etc/passwd\x00octet\x00")
    assert name == "ITLFile.tlv\x00../../etc/passwd"
    with pytest.raises(NameDenied, match="control character"):
        normalise_name(name)


@pytest.mark.parametrize("packet", [
    b"", b"\x00", b"\x00\x01", b"\x00\x01a", b"\x00\x01abc",  # truncated
    b"\x00\x09abc\x00octet\x00",  # unknown opcode
    b"\x00\x04\x00",  # a 3-byte ACK: kills tftpy's own server
    b"\x00\x03\x00\x01data", b"\x00\x05\x00\x01oops\x00",  # not a request
    b"\x00\x01name\x00mail\x00", b"\x00\x01name\x00",  # no usable mode
])
def test_malformed_requests_raise_format_error(packet: bytes) -> None:
    with pytest.raises(FormatError):
        parse_request(packet)


def test_supported_options_keep_blksize_and_tsize_only() -> None:
    assert supported_options({"blksize": "1024", "tsize": "0", "windowsize": "8"}) == {
        "blksize": "1024", "tsize": "0"}
    assert supported_options({"blksize": "70000"}) == {"blksize": "65464"}
    assert supported_options({"blksize": "8"}) == {"blksize": "8"}
    assert supported_options({"blksize": "4"}) == {}  # invalid (RFC 2348): ignored, not 8
    assert supported_options({"blksize": "0", "tsize": "0"}) == {"tsize": "0"}
    assert supported_options({"blksize": "-5"}) == {}
    assert supported_options({"blksize": "abc", "timeout": "1"}) == {}


@pytest.mark.parametrize(("raw", "expected"), [
    ("ITLFile.tlv", "ITLFile.tlv"), ("/mk-sip.jar", "mk-sip.jar"),
    ("/etc/passwd", "etc/passwd"),  # one '/' is stripped: the name stays inside the root
    ("Desktops/320x212x12/List.xml", "Desktops/320x212x12/List.xml"),
])
def test_normalise_name_accepts_names_under_the_root(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(("raw", "why"), [
    ("../x", "'..'"), ("a/../../b", "'..'"), ("//etc/passwd", "absolute"), ("a\\b", "backslash"),
    ("a\x00b", "control"), ("a\nb", "control"), ("x" * 300, "255"), ("", "empty"), ("/", "empty"),
    ("a//b", "empty or '.'"), ("./x", "empty or '.'"), ("caf\xe9.xml", "non-ASCII"),
])
def test_normalise_name_denies_hostile_names(raw: str, why: str) -> None:
    with pytest.raises(NameDenied, match=why):
        normalise_name(raw)


def test_private_keys_are_refused_by_name_and_by_content() -> None:
    for name in ("tftp.key", "certs/Node.KEY", "private/anything.pem", "a/private/b.txt"):
        with pytest.raises(NameDenied):
            refuse_private(name)
    with pytest.raises(NameDenied, match="PEM/OpenSSH private key"):
        refuse_private("cert.crt", CERT_PEM + KEY_PEM)
    refuse_private("tftp.pem", CERT_PEM)  # certificates alone may be served
    refuse_private("private", b"a file named private is not a private directory")


def test_printable_escapes_control_and_non_ascii_bytes() -> None:
    assert printable("a\x00b\xff/c") == "a\\x00b\\xff/c"


def test_directory_source_serves_files_and_certificates(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "SEP001122334455.cnf.xml").write_bytes(b"<device/>")
    (tmp_path / "tftp.pem").write_bytes(CERT_PEM)
    files = DirectorySource(tmp_path)
    assert fetch(files, "/sub/SEP001122334455.cnf.xml") == ("sub/SEP001122334455.cnf.xml",
                                                           b"<device/>")
    assert fetch(files, "tftp.pem") == ("tftp.pem", CERT_PEM)
    assert fetch(files, "missing.tlv") == ("missing.tlv", None)
    assert files.lookup("sub") is None  # a directory is not a file


def test_directory_source_refuses_keys_and_escapes(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret")
    root = tmp_path / "root"
    (root / "private").mkdir(parents=True)
    (root / "private" / "ca.pem").write_bytes(CERT_PEM)
    (root / "combined.pem").write_bytes(CERT_PEM + KEY_PEM)
    (root / "escape.txt").symlink_to(outside)
    (root / "innocent.pem").symlink_to(root / "private" / "ca.pem")
    (root / "inside.txt").symlink_to(root / "combined.pem")
    files = DirectorySource(root)
    for name in ("combined.pem", "escape.txt", "innocent.pem", "private/ca.pem", "inside.txt",
                 "../outside.txt"):
        with pytest.raises(PermissionError):
            files.lookup(name)  # the source refuses on its own, not only through fetch
    with pytest.raises(UsageError, match="not a directory"):
        DirectorySource(tmp_path / "nope")


def test_mapping_source_swaps_the_whole_set_at_once() -> None:
    files = MappingSource({"/ITLFile.tlv": b"v1", "SEP1.cnf.xml": b"c1"})
    assert files.lookup("ITLFile.tlv") == b"v1"  # names are normalised on publish
    seen: list[tuple[bytes | None, bytes | None]] = []

    def reader() -> None:
        for _ in range(2000):
            seen.append((files.lookup("ITLFile.tlv"), files.lookup("SEP1.cnf.xml")))

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(200):
        files.replace({"ITLFile.tlv": b"v%d" % i, "SEP1.cnf.xml": b"c%d" % i})
    thread.join()
    assert all(itl is not None and cnf is not None for itl, cnf in seen)
    files.replace({"ITLFile.tlv": b"new"})
    assert files.lookup("ITLFile.tlv") == b"new"
    assert files.lookup("SEP1.cnf.xml") is None
    assert files.names() == ["ITLFile.tlv"]


@pytest.mark.parametrize("bad", [{"../x": b""}, {"tftp.key": b""}, {"c.pem": KEY_PEM}])
def test_mapping_source_refuses_to_publish_bad_names_and_keys(bad: dict[str, bytes]) -> None:
    files = MappingSource({"ok": b"1"})
    with pytest.raises(ValueError, match="cannot publish"):
        files.replace(bad)
    assert files.lookup("ok") == b"1"  # a refused publish changes nothing


def test_chain_source_first_hit_wins_and_a_refusal_is_final(tmp_path: Path) -> None:
    (tmp_path / "ITLFile.tlv").write_bytes(b"disk")
    (tmp_path / "firmware.loads").write_bytes(b"load")
    (tmp_path / "key.pem").write_bytes(KEY_PEM)
    chain = ChainSource(MappingSource({"ITLFile.tlv": b"cluster"}), DirectorySource(tmp_path))
    assert chain.lookup("ITLFile.tlv") == b"cluster"
    assert chain.lookup("firmware.loads") == b"load"
    assert chain.lookup("absent") is None
    with pytest.raises(PermissionError):
        fetch(chain, "key.pem")


def _key_encodings() -> dict[str, bytes]:
    """One private key in every encoding a lab folder might hold, under innocent names."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    der, pem = serialization.Encoding.DER, serialization.Encoding.PEM
    none = serialization.NoEncryption()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(rsa_key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(rsa_key, hashes.SHA256()))
    fmt = serialization.PrivateFormat
    return {
        "pkcs1.der": rsa_key.private_bytes(der, fmt.TraditionalOpenSSL, none),
        "sec1.der": ec_key.private_bytes(der, fmt.TraditionalOpenSSL, none),
        "pkcs8.der": rsa_key.private_bytes(der, fmt.PKCS8, none),
        "pkcs8-encrypted.der": rsa_key.private_bytes(
            der, fmt.PKCS8, serialization.BestAvailableEncryption(b"lab-pass")),
        "bundle.p12": pkcs12.serialize_key_and_certificates(
            b"lab", rsa_key, cert, None, serialization.BestAvailableEncryption(b"lab-pass")),
        "bundle-open.p12": pkcs12.serialize_key_and_certificates(b"lab", rsa_key, cert, None,
                                                                 none),
        "id_ed25519": ec_key.private_bytes(pem, fmt.OpenSSH, none),
        "cert.der": cert.public_bytes(der),  # the one that may be served
    }


@pytest.mark.parametrize("name", ["pkcs1.der", "sec1.der", "pkcs8.der", "pkcs8-encrypted.der",
                                  "bundle.p12", "bundle-open.p12", "id_ed25519"])
def test_private_keys_are_refused_by_content_in_every_encoding(name: str, tmp_path: Path) -> None:
    data = _key_encodings()[name]
    (tmp_path / "SEP001122334455.cnf.xml").write_bytes(data)  # an innocent name
    with pytest.raises(NameDenied, match="private key"):
        fetch(DirectorySource(tmp_path), "SEP001122334455.cnf.xml")
    with pytest.raises(ValueError, match="private key"):
        MappingSource({"ITLFile.tlv": data})


def test_der_certificates_and_other_binaries_are_still_served(tmp_path: Path) -> None:
    (tmp_path / "cert.der").write_bytes(_key_encodings()["cert.der"])
    (tmp_path / "load.sbn").write_bytes(b"\x30" + bytes(range(256)) * 100)
    assert fetch(DirectorySource(tmp_path), "cert.der")[1] is not None
    assert fetch(DirectorySource(tmp_path), "load.sbn")[1] is not None
