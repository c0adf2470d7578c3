"""Preflight against a cluster phonelab did not build: files by openssl and a hand builder,
served by tftpd-hpa (Debian's in.tftpd), not by phonelab.

The ITL here is assembled byte by byte in this test from docs/PROTOCOLS.md §1-§2 (struct,
not harness.formats) and signed by `openssl dgst`, with certificates from `openssl req`.
Preflight must report its signer, records and the certificates' expiry as openssl made
them, and predict that regenerating TFTP and TVS together strands the phone (exit 1).
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PHONELAB = Path(sys.executable).with_name("phonelab")
IN_TFTPD = shutil.which("in.tftpd") or "/usr/sbin/in.tftpd"
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(not Path(IN_TFTPD).exists() or OPENSSL is None,
                                reason="needs in.tftpd (Debian tftpd-hpa) and openssl")


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(value)) + value


def z(text: str) -> bytes:
    return text.encode() + b"\0"


def openssl_cert(directory: Path, name: str, subject: str, days: int) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run([OPENSSL or "openssl", "req", "-x509", "-newkey", "rsa:1024", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", str(days), "-subj", subject,
                    "-set_serial", "0x" + name.encode().hex()[:8]],
                   check=True, capture_output=True)
    return key, cert


def der_and_fields(cert: Path) -> tuple[bytes, int, bytes]:
    """(DER, serial, RSAPublicKey DER) read back through openssl, not our parsers."""
    der = subprocess.run([OPENSSL or "openssl", "x509", "-in", str(cert), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    serial_hex = subprocess.run([OPENSSL or "openssl", "x509", "-in", str(cert), "-noout",
                                 "-serial"], check=True, capture_output=True,
                                text=True).stdout.strip().split("=")[1]
    pub = subprocess.run([OPENSSL or "openssl", "rsa", "-pubin", "-in", "/dev/stdin",
                          "-RSAPublicKey_out", "-outform", "DER"],
                         input=subprocess.run([OPENSSL or "openssl", "x509", "-in", str(cert),
                                               "-noout", "-pubkey"], check=True,
                                              capture_output=True).stdout,
                         check=True, capture_output=True).stdout
    return der, int(serial_hex, 16), pub


def record(der: bytes, subject: str, serial: int, pub: bytes, role: int) -> bytes:
    raw_serial = serial.to_bytes((serial.bit_length() + 7) // 8, "big")
    body = (tlv(3, z(subject)) + tlv(5, z(subject)) + tlv(6, raw_serial)
            + tlv(4, struct.pack(">H", role)) + tlv(7, pub) + tlv(9, der))
    return tlv(1, struct.pack(">H", 5 + len(body))) + body


def build_itl(directory: Path, signer_key: Path, signer: tuple[bytes, int, bytes, str],
              records: bytes) -> bytes:
    _, serial, _, subject = signer
    raw_serial = serial.to_bytes((serial.bit_length() + 7) // 8, "big")
    names = tlv(4, z(subject)) + tlv(6, z(subject)) + tlv(5, raw_serial)
    before = (tlv(1, b"\x01\x02") + b"\x02\x00\x02" + b"??" + tlv(28, b"\x01\x00")
              + tlv(3, names)[:3] + names + b"\x07\x00\x0f" + tlv(8, b"\x01")
              + b"\x09\x00\x08" + tlv(10, b"\x00") + tlv(11, b"\x01"))
    after = tlv(14, z("ITLFile.tlv")) + tlv(15, struct.pack(">I", int(time.time())))
    sig_len = 128
    while (len(before) + len(after) + 3 + sig_len) % 4:
        after += b"\x0d"
    header_length = len(before) + len(after) + 3 + sig_len
    before = before.replace(b"\x02\x00\x02??", b"\x02\x00\x02" + struct.pack(">H", header_length))
    signed = directory / "to-sign.bin"
    signed.write_bytes(before + after + records)
    signature = subprocess.run([OPENSSL or "openssl", "dgst", "-sha1", "-sign", str(signer_key),
                                str(signed)], check=True, capture_output=True).stdout
    assert len(signature) == sig_len
    return before + tlv(12, signature) + after + records


@pytest.fixture
def foreign_cluster(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    root = tmp_path / "tftproot"
    root.mkdir()
    tftp_key, tftp_pem = openssl_cert(tmp_path, "tftp", "/CN=cucm-foreign/O=Other Vendor", 20)
    _, tvs_pem = openssl_cert(tmp_path, "tvs", "/CN=cucm-foreign-TVS/O=Other Vendor", 400)
    tftp_der, tftp_serial, tftp_pub = der_and_fields(tftp_pem)
    tvs_der, tvs_serial, tvs_pub = der_and_fields(tvs_pem)
    subject, tvs_subject = "CN=cucm-foreign,O=Other Vendor", "CN=cucm-foreign-TVS,O=Other Vendor"
    records = (record(tftp_der, subject, tftp_serial, tftp_pub, 0)  # SAST
               + record(tftp_der, subject, tftp_serial, tftp_pub, 2)  # CCM+TFTP
               + record(tvs_der, tvs_subject, tvs_serial, tvs_pub, 21))  # TVS
    itl = build_itl(tmp_path, tftp_key, (tftp_der, tftp_serial, tftp_pub, subject), records)
    (root / "ITLFile.tlv").write_bytes(itl)
    root.chmod(0o755)
    (root / "ITLFile.tlv").chmod(0o644)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([IN_TFTPD, "-L", "-l", "-a", f"127.0.0.1:{port}", "-p",
                               "-u", "nobody", "-s", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        yield port, {"tftp_serial": f"{tftp_serial:x}", "tvs_serial": f"{tvs_serial:x}"}
    finally:
        server.terminate()
        server.wait(timeout=5)


def test_signer_records_expiry_and_the_hazard_on_a_foreign_cluster(
        foreign_cluster: tuple[int, dict[str, str]]) -> None:
    port, facts = foreign_cluster
    result = subprocess.run([str(PHONELAB), "preflight", "--tftp", f"127.0.0.1:{port}",
                             "--phones", "SEP0011223344AA:7962,SEP0011223344BB:8845",
                             "--plan", "regenerate-tftp,regenerate-tvs,restart-tftp,reset-phones",
                             "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout.rsplit("\n", 2)[0])
    itl = report["trust_lists"][0]
    assert itl["name"] == "ITLFile.tlv" and itl["verified"] and itl["records"] == 3
    assert "cucm-foreign" in itl["signer"] and facts["tftp_serial"] in itl["signer"]
    certs = {c["serial"]: c for c in report["certificates"]}
    assert certs[facts["tftp_serial"]]["roles"] == "SAST+CCM+TFTP"
    assert certs[facts["tftp_serial"]]["state"] == "expiring"  # 20 days: under 30
    assert 18 <= certs[facts["tftp_serial"]]["days_left"] <= 20
    tvs = certs[facts["tvs_serial"]]
    assert tvs["state"] == "ok" and tvs["roles"] == "TVS"
    assert {p["phone"]: p["state"] for p in report["predictions"]} == {
        "SEP0011223344AA": "stranded", "SEP0011223344BB": "stranded"}
    assert result.stdout.strip().splitlines()[-1] == (
        "preflight phones=2 stranded=2 unaffected=0 expiring=1")
