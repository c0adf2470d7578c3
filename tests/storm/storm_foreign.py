"""A cluster phonelab did not write: trust list and signed configs built with `struct` and
`openssl` (from docs/PROTOCOLS.md §1-§3, not harness.formats), served by tftpd-hpa.

Written for the storm tests on the same lines as tests/preflight/test_foreign_cluster.py
(whose helpers live inside that test module); this one also signs `.sgn` configs.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

IN_TFTPD = shutil.which("in.tftpd") or "/usr/sbin/in.tftpd"
OPENSSL = shutil.which("openssl") or "openssl"
HAVE_TOOLS = Path(IN_TFTPD).exists() and shutil.which("openssl") is not None
SIG_BYTES = 128  # RSA-1024 signers


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(value)) + value


def zstr(text: str) -> bytes:
    return text.encode() + b"\0"


@dataclass(frozen=True)
class OpensslCert:
    key: Path
    der: bytes
    serial: int
    rsa_public: bytes  # RSAPublicKey DER, as trust-list tag 7 holds it
    subject: str  # as the header and records name it


def openssl_cert(directory: Path, name: str, subject: str, days: int = 365) -> OpensslCert:
    """A self-signed RSA-1024 certificate made and read back by openssl only."""
    key, pem = directory / f"{name}.key", directory / f"{name}.pem"
    serial = "0x" + name.encode().hex()[:8]
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout",
                    str(key), "-out", str(pem), "-days", str(days), "-subj", subject,
                    "-set_serial", serial], check=True, capture_output=True)
    der = subprocess.run([OPENSSL, "x509", "-in", str(pem), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    pub_pem = subprocess.run([OPENSSL, "x509", "-in", str(pem), "-noout", "-pubkey"],
                             check=True, capture_output=True).stdout
    rsa = subprocess.run([OPENSSL, "rsa", "-pubin", "-RSAPublicKey_out", "-outform", "DER"],
                         input=pub_pem, check=True, capture_output=True).stdout
    dn = ",".join(reversed([p for p in subject.split("/") if p]))
    return OpensslCert(key, der, int(serial, 16), rsa, dn)


def _serial_bytes(serial: int) -> bytes:
    return serial.to_bytes((serial.bit_length() + 7) // 8, "big")


def trust_record(cert: OpensslCert, role: int) -> bytes:
    body = (tlv(3, zstr(cert.subject)) + tlv(5, zstr(cert.subject))
            + tlv(6, _serial_bytes(cert.serial)) + tlv(4, struct.pack(">H", role))
            + tlv(7, cert.rsa_public) + tlv(9, cert.der))
    return tlv(1, struct.pack(">H", 5 + len(body))) + body


def signed_file(directory: Path, signer: OpensslCert, filename: str, body: bytes, *,
                trust_list: bool) -> bytes:
    """Header (§1.3 order) + body, signed with `openssl dgst -sha1 -sign` (§1.5)."""
    names = tlv(4, zstr(signer.subject)) + tlv(6, zstr(signer.subject)) + tlv(
        5, _serial_bytes(signer.serial))
    version = b"\x01\x02" if trust_list else b"\x01\x00"
    head = tlv(1, version) + b"\x02\x00\x02" + b"\0\0"
    if trust_list:
        head += tlv(28, b"\x01\x00")
    head += (struct.pack(">BH", 3, len(names)) + names + b"\x07\x00\x0f" + tlv(8, b"\x01")
             + b"\x09\x00\x08" + tlv(10, b"\x00") + tlv(11, b"\x01"))
    tail = tlv(14, zstr(filename)) + tlv(15, struct.pack(">I", int(time.time())))
    while (len(head) + len(tail) + 3 + SIG_BYTES) % 4:
        tail += b"\x0d"
    length = len(head) + len(tail) + 3 + SIG_BYTES
    head = head[:8] + struct.pack(">H", length) + head[10:]
    unsigned = directory / f"{filename}.to-sign"
    unsigned.write_bytes(head + tail + body)
    signature = subprocess.run([OPENSSL, "dgst", "-sha1", "-sign", str(signer.key),
                                str(unsigned)], check=True, capture_output=True).stdout
    assert len(signature) == SIG_BYTES
    return head + tlv(12, signature) + tail + body


def config_xml(*, softkeys: str | None = None) -> bytes:
    """A small SIP device config: non-secure, one CallManager, a softkey file."""
    keys = f"<softKeyFile>{softkeys}</softKeyFile>" if softkeys else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><device><deviceProtocol>SIP'
            f"</deviceProtocol><deviceSecurityMode>1</deviceSecurityMode><devicePool>"
            f"<callManagerGroup><members><member priority=\"0\"><callManager><ports>"
            f"<sipPort>5060</sipPort></ports><processNodeName>192.0.2.10</processNodeName>"
            f"</callManager></member></members></callManagerGroup></devicePool>{keys}"
            f"</device>").encode()


@dataclass
class ForeignCluster:
    root: Path
    tftp: OpensslCert
    tvs: OpensslCert


def build_foreign_cluster(directory: Path, device_macs: list[str]) -> ForeignCluster:
    """ITLFile.tlv (SAST, CCM+TFTP, TVS), a signed config per listed MAC, a signed
    XMLDefault for the rest, and one softkey file; nothing here comes from phonelab."""
    root = directory / "tftproot"
    root.mkdir()
    tftp = openssl_cert(directory, "tftp", "/O=Other Vendor/CN=cucm-foreign")
    tvs = openssl_cert(directory, "tvsx", "/O=Other Vendor/CN=cucm-foreign-TVS")
    records = trust_record(tftp, 0) + trust_record(tftp, 2) + trust_record(tvs, 21)
    (root / "ITLFile.tlv").write_bytes(
        signed_file(directory, tftp, "ITLFile.tlv", records, trust_list=True))
    config = config_xml(softkeys="SKforeign.xml")
    for mac in device_macs:
        name = f"SEP{mac}.cnf.xml.sgn"
        (root / name).write_bytes(signed_file(directory, tftp, name, config, trust_list=False))
    (root / "XMLDefault.cnf.xml.sgn").write_bytes(signed_file(
        directory, tftp, "XMLDefault.cnf.xml.sgn", config, trust_list=False))
    (root / "SKforeign.xml").write_bytes(b"<softKeyCfg/>")
    root.chmod(0o755)
    for path in root.iterdir():
        path.chmod(0o644)
    return ForeignCluster(root, tftp, tvs)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_tftpd(root: Path, port: int) -> subprocess.Popen[bytes]:
    """Debian's in.tftpd in the foreground (-L), read-only (no -c), on 127.0.0.1:port."""
    server = subprocess.Popen([IN_TFTPD, "-L", "-a", f"127.0.0.1:{port}", "-p", "-u",
                               "nobody", "-s", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    probe = b"\x00\x01ITLFile.tlv\x00octet\x00"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:  # ready when it answers a read request
            sock.sendto(probe, ("127.0.0.1", port))
            try:
                sock.recvfrom(1024)
                return server
            except TimeoutError:
                continue
    server.kill()
    raise RuntimeError("in.tftpd did not answer within 5 s")
