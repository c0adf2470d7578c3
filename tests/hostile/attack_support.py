"""What the hostile suite's tests share: a phone's timeouts, RSS and descriptor counts,
an attacker in a process of its own (so its sockets are not counted as the server's),
and one legitimate request per service, timed."""

from __future__ import annotations

import asyncio
import io
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import tftpy
from cryptography.hazmat.primitives.serialization import Encoding

from harness.services import sip_message as sip
from harness.services.capf_client import CapfClient
from harness.services.tvs_client import TvsClient
from harness.tls import TlsIdentity, client_context

PHONE_TIMEOUT = 10.0  # a phone waits this long for TVS, HTTPS or a TFTP block set
TVS_DEVICE = "CP-7962-SEP001122334455"

_HOLDER = r"""
import socket, sys
host, port, count, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
held = []
for _ in range(count):
    s = socket.create_connection((host, port), timeout=5)
    if first:
        s.sendall(bytes.fromhex(first))
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def fd_count(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Attacker:
    """`count` TCP connections to `address` held open by a child process (optionally
    sending `first` bytes each), released on close()."""

    def __init__(self, address: tuple[str, int], count: int, first: bytes = b"") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, address[0], str(address[1]), str(count),
             first.hex()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"attacker did not connect: {line!r}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass
class Timed:
    """Latencies of legitimate requests, by service."""

    seconds: dict[str, float]

    def worst(self) -> float:
        return max(self.seconds.values())

    def line(self) -> str:
        return " ".join(f"{k}_s={v:.3f}" for k, v in self.seconds.items())


def timed(**requests: Callable[[], object]) -> Timed:
    """Run each request in turn; each must succeed (raise otherwise)."""
    seconds = {}
    for name, request in requests.items():
        started = time.monotonic()
        request()
        seconds[name] = time.monotonic() - started
    return Timed(seconds)


def tftp_get(address: tuple[str, int], name: str, expected: bytes) -> None:
    out = io.BytesIO()
    tftpy.TftpClient(*address).download(name, out, timeout=2)
    assert out.getvalue() == expected


def tvs_verify(address: tuple[str, int], tvs: TlsIdentity, certificate: bytes) -> None:
    trusted = tvs.cert.public_bytes(Encoding.DER)
    client = TvsClient([(*address, 1)], lambda der: der == trusted, timeout=PHONE_TIMEOUT)
    assert client.verify_blocking(certificate, TVS_DEVICE).valid


def https_get(address: tuple[str, int]) -> None:
    import http.client
    conn = http.client.HTTPSConnection(*address, timeout=PHONE_TIMEOUT,
                                       context=client_context())
    try:
        conn.request("GET", "/services")
        reply = conn.getresponse()
        assert reply.status == 200, reply.status
        reply.read()
    finally:
        conn.close()


def capf_enroll(address: tuple[str, int], device: str, capf: TlsIdentity) -> None:
    trusted = capf.cert.public_bytes(Encoding.DER)
    client = CapfClient(device, [address], lambda der: der == trusted, timeout=PHONE_TIMEOUT)
    result = asyncio.run(client.run())
    assert result.lsc is not None, result


def sip_register(address: tuple[str, int], device: str, transport: str = "TCP") -> None:
    message = sip.SipMessage(f"REGISTER sip:{address[0]}:{address[1]} SIP/2.0", [
        ("Via", f"SIP/2.0/{transport} 127.0.0.1:5060;branch=z9hG4bK{time.monotonic_ns()}"),
        ("From", f"<sip:{device}@127.0.0.1>;tag=1"),
        ("To", f"<sip:{device}@127.0.0.1>"),
        ("Call-ID", f"{time.monotonic_ns()}@127.0.0.1"),
        ("CSeq", "1 REGISTER"),
        ("Contact", f"<sip:{device}@127.0.0.1:5060;transport={transport.lower()}>"),
        ("Expires", "3600"),
    ]).encode()
    with socket.create_connection(address, timeout=PHONE_TIMEOUT) as sock:
        sock.sendall(message)
        buffer = b""
        while True:
            while (frame := sip.split_frame(buffer)) is not None:
                data, buffer = frame
                reply = sip.parse(data)
                if reply.status is not None and reply.status >= 200:
                    assert reply.status == 200, reply.status
                    return
            chunk = sock.recv(65535)
            assert chunk, "registrar closed the connection"
            buffer += chunk
