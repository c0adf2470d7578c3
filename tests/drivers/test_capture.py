"""PacketCapture on loopback: real tftpy, TLS, HTTP and SIP traffic; no-privilege paths."""

from __future__ import annotations

import datetime
import http.client
import io
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import tftpy
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.errors import UsageError
from phone_drivers.capture import CaptureUnavailable, Endpoint, PacketCapture, Service
from phone_drivers.capture_endpoints import build_filter

# The phone gets a loopback address of its own, so other tests' loopback traffic (parallel
# workers) never lands in its flows. tftpy's TFTP server must stay on 127.0.0.1: its
# transfer sockets are unbound, so replies leave from the kernel's default 127.0.0.1.
_NET = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}"
PHONE, PHONE_IP, SERVER_IP, TFTP_IP = "SEP001122AABBCC", f"{_NET}.2", f"{_NET}.1", "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]


def start(capture: PacketCapture) -> PacketCapture:
    """How pytest code uses it: no privileges or no libpcap → skip with the reason."""
    try:
        return capture.start()
    except CaptureUnavailable as exc:
        pytest.skip(exc.reason)


@pytest.fixture
def tftp_root(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    root = tmp_path / "tftp"
    root.mkdir()
    (root / "ITLFile.tlv").write_bytes(bytes(range(256)) * 6)
    server = tftpy.TftpServer(str(root))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((TFTP_IP, 0))
        port = probe.getsockname()[1]
    thread = threading.Thread(target=server.listen, args=(TFTP_IP, port),
                              kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    while server.sock is None:
        time.sleep(0.01)
    yield port, tmp_path
    server.stop(now=True)
    thread.join(timeout=2)


def test_filter_covers_tftp_data_ports_and_drops_loopback_copies() -> None:
    tftp, tvs = Endpoint(Service.TFTP, "10.1.1.5"), Endpoint(Service.TVS, "10.1.1.5")
    sip = Endpoint(Service.SIP, "10.1.1.6")
    assert tvs.port == 2445 and tftp.port == 69 and sip.port == 5060
    assert build_filter([tftp]) == "(udp and host 10.1.1.5)"  # not just port 69
    both = build_filter([tvs, sip, tftp], inbound_only=True)
    assert both == ("(((udp or tcp) and host 10.1.1.6 and port 5060) or (tcp and host 10.1.1.5 "
                    "and port 2445) or (udp and host 10.1.1.5)) and inbound")
    with pytest.raises(UsageError, match="IP address"):
        Endpoint(Service.TFTP, "cucm-pub.lab")
    with pytest.raises(UsageError):
        build_filter([])
    with pytest.raises(CaptureUnavailable, match="no network interface named 'nope0'"):
        PacketCapture([tftp], pcap_path=Path("x.pcap"), iface="nope0")


def test_tftp_download_is_seen_once_with_outcome_and_pcap_agrees_with_tshark(
        tftp_root: tuple[int, Path]) -> None:
    port, tmp = tftp_root
    pcap = tmp / "capture.pcap"
    capture = PacketCapture([Endpoint(Service.TFTP, TFTP_IP, port)], pcap_path=pcap,
                            phones={PHONE_IP: PHONE})
    with start(capture):
        client = tftpy.TftpClient(TFTP_IP, port, localip=PHONE_IP)
        with pytest.raises(tftpy.TftpException):
            client.download(f"CTLSEP{PHONE[3:]}.tlv", io.BytesIO())
        data = io.BytesIO()
        client.download("ITLFile.tlv", data, timeout=2)
    assert len(data.getvalue()) == 1536
    result = capture.result
    assert result is not None and pcap.exists() and result.packets > 0
    reads = result.flows(PHONE).tftp
    assert [(r.file, r.outcome, r.error_code) for r in reads] == [
        (f"CTLSEP{PHONE[3:]}.tlv", "error", 1), ("ITLFile.tlv", "ok", None)]
    assert reads[1].server == f"{TFTP_IP}:{port}" and reads[1].client.startswith(PHONE_IP)
    assert set(result.phones) == {PHONE}
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    listed = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"udp.port=={port},tftp", "-Y",
         f"tftp.opcode == 1 && ip.src == {PHONE_IP}", "-T", "fields", "-e", "tftp.source_file"],
        capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert listed == [f"CTLSEP{PHONE[3:]}.tlv", "ITLFile.tlv"]  # exactly once each


def self_signed(tmp: Path, name: str) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


def tls_server(cert: Path, key: Path, listener: socket.socket) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_OPTIONAL  # TVS asks for the phone's LSC/MIC
    context.load_verify_locations(cert.parent / "phone.crt")
    conn, _ = listener.accept()
    with context.wrap_socket(conn, server_side=True) as tls:
        tls.recv(10)


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_tls_http_and_sip_flows(tmp_path: Path) -> None:
    tvs_cert, tvs_key, tvs_der = self_signed(tmp_path, "tvs")
    phone_cert, phone_key, phone_der = self_signed(tmp_path, "phone")
    tvs = socket.create_server((SERVER_IP, 0))
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "SEP001122AABBCC.cnf.xml").write_text("<device/>")
    web = ThreadingHTTPServer((SERVER_IP, 0), partial(QuietFiles, directory=str(tmp_path / "web")))
    sip_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip_udp.bind((SERVER_IP, 0))
    endpoints = [Endpoint(Service.TVS, SERVER_IP, tvs.getsockname()[1]),
                 Endpoint(Service.HTTP, SERVER_IP, web.server_address[1]),
                 Endpoint(Service.SIP, SERVER_IP, sip_udp.getsockname()[1])]
    threading.Thread(target=tls_server, args=(tvs_cert, tvs_key, tvs), daemon=True).start()
    threading.Thread(target=web.serve_forever, args=(0.05,), daemon=True).start()
    capture = PacketCapture(endpoints, pcap_path=tmp_path / "c.pcap", phones={PHONE_IP: PHONE})
    with start(capture):
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        client.load_cert_chain(phone_cert, phone_key)
        raw = socket.create_connection(tvs.getsockname(), source_address=(PHONE_IP, 0))
        with client.wrap_socket(raw) as tls:
            tls.sendall(b"W\x01\x03")
        for name in ("SEP001122AABBCC.cnf.xml", "SEP001122AABBCC.cnf.xml.sgn"):
            conn = http.client.HTTPConnection(SERVER_IP, web.server_address[1],
                                              source_address=(PHONE_IP, 0))
            conn.request("GET", f"/{name}")
            conn.getresponse().read()
            conn.close()
        register = (f"REGISTER sip:{SERVER_IP} SIP/2.0\r\nf: <sip:1000@{SERVER_IP}>\r\n"
                    f"Contact: <sip:1000@{PHONE_IP}>\r\nExpires: 3600\r\n\r\n").encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone_udp:
            phone_udp.bind((PHONE_IP, 0))
            phone_udp.sendto(register, sip_udp.getsockname())
    web.shutdown()
    web.server_close()
    tvs.close()
    sip_udp.close()
    flows = capture.stop().flows(PHONE)
    [handshake] = flows.tls
    assert handshake.service == "tvs" and handshake.client_hello and handshake.version == "TLS 1.2"
    assert handshake.server_certs == (tvs_der,) and handshake.client_cert_requested
    assert handshake.client_certs == (phone_der,)
    assert [(f.transport, f.file, f.outcome, f.error_code) for f in flows.files] == [
        ("http", "SEP001122AABBCC.cnf.xml", "ok", None),
        ("http", "SEP001122AABBCC.cnf.xml.sgn", "error", 404)]
    [reg] = flows.sip
    assert reg.transport == "udp" and reg.uri == f"sip:{SERVER_IP}"
    assert reg.headers["from"] == f"<sip:1000@{SERVER_IP}>" and reg.headers["expires"] == "3600"


PROBE = """
import ctypes.util, pathlib, sys, tempfile
if sys.argv[1] == "no-libpcap":
    real = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None if name == "pcap" else real(name)
from phone_drivers.capture import CaptureUnavailable, Endpoint, PacketCapture, Service
pcap = pathlib.Path(tempfile.mkdtemp()) / "probe.pcap"
capture = PacketCapture([Endpoint(Service.TFTP, "127.0.0.1")], pcap_path=pcap)
try:
    capture.start()
except CaptureUnavailable as exc:
    print("UNAVAILABLE:", exc.reason)
else:
    print("STARTED", capture.stop().packets >= 0)
"""


def probe(mode: str, *prefix: str) -> str:
    """Run a capture start in a fresh process, bounded so a hang fails the test."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": "/tmp"}
    done = subprocess.run([*prefix, sys.executable, "-c", PROBE, mode], cwd="/", env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0,
                    reason="needs root and setpriv to drop to an unprivileged user")
def test_without_privileges_capture_is_unavailable_not_a_crash() -> None:
    out = probe("plain", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all")
    assert out.startswith("UNAVAILABLE: sniffing on lo needs root or CAP_NET_RAW"), out
    assert "uid 65534" in out


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0,
                    reason="needs root and setpriv to drop to an unprivileged user")
def test_cap_net_raw_alone_is_enough() -> None:
    out = probe("plain", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=+net_raw", "--ambient-caps=+net_raw")
    assert out == "STARTED True", out


def test_without_libpcap_capture_is_unavailable() -> None:
    out = probe("no-libpcap")
    assert out.startswith("UNAVAILABLE: libpcap is not installed"), out
