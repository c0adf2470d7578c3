"""TLS handshakes to TVS, CAPF, HTTPS and SIP-TLS, read from captured TCP segments.

Only the handshake is informative on the wire (docs/HARDWARE.md §4.3): was a ClientHello
sent, which version and cipher won, and — in TLS 1.2, where certificates travel in
clear — the server's chain and whether the phone presented its LSC/MIC. Hand-written
because certificates span several TCP segments: scapy's TLS layer binds only port 443
and needs a session object to reassemble; here each direction's byte stream is rebuilt
from sequence numbers (first gap ends it) and only record/handshake headers are parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

_HANDSHAKE, _CLIENT_HELLO, _SERVER_HELLO, _CERTIFICATE, _CERT_REQUEST = 22, 1, 2, 11, 13
_SUPPORTED_VERSIONS = 43
_VERSIONS = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
Conn = tuple[str, int, str, int]  # client ip, client port, server ip, server port


@dataclass(frozen=True)
class TlsHandshake:
    time: float
    client: str
    server: str
    service: str
    client_hello: bool
    version: str | None = None
    cipher: int | None = None
    server_certs: tuple[bytes, ...] = ()  # DER, leaf first (TLS 1.2 and older only)
    client_cert_requested: bool = False
    client_certs: tuple[bytes, ...] = ()


class TlsTracker:
    """Collects segments of connections to the given (host, port) → service label."""

    def __init__(self, servers: dict[tuple[str, int], str]) -> None:
        self.servers = servers
        self._streams: dict[Conn, tuple[float, dict[int, bytes], dict[int, bytes]]] = {}

    def add(self, src: str, sport: int, dst: str, dport: int, seq: int, payload: bytes,
            when: float) -> None:
        if (dst, dport) in self.servers:
            conn, upstream = (src, sport, dst, dport), True
        elif (src, sport) in self.servers:
            conn, upstream = (dst, dport, src, sport), False
        else:
            return
        _, up, down = self._streams.setdefault(conn, (when, {}, {}))
        if payload:
            (up if upstream else down).setdefault(seq, payload)

    def handshakes(self) -> list[TlsHandshake]:
        out = []
        for conn, (when, up, down) in self._streams.items():
            client_msgs, server_msgs = _messages(_stream(up)), _messages(_stream(down))
            if not client_msgs and not server_msgs:
                continue  # a port probe or a non-TLS talker
            version, cipher = _server_hello(server_msgs.get(_SERVER_HELLO, b""))
            out.append(TlsHandshake(
                when, f"{conn[0]}:{conn[1]}", f"{conn[2]}:{conn[3]}", self.servers[conn[2:]],
                _CLIENT_HELLO in client_msgs, version, cipher,
                _certificates(server_msgs.get(_CERTIFICATE, b"")), _CERT_REQUEST in server_msgs,
                _certificates(client_msgs.get(_CERTIFICATE, b""))))
        return out


def _stream(segments: dict[int, bytes]) -> bytes:
    """Contiguous bytes from the lowest sequence number (relative, wrap-safe)."""
    if not segments:
        return b""
    base = min(segments)
    data, expected = bytearray(), 0
    for rel, chunk in sorted(((seq - base) % (1 << 32), chunk) for seq, chunk in segments.items()):
        if rel > expected:
            break
        data += chunk[expected - rel:]
        expected = max(expected, rel + len(chunk))
    return bytes(data)


def _messages(stream: bytes) -> dict[int, bytes]:
    """First body of each handshake message type, from the plaintext handshake records."""
    handshake, pos = bytearray(), 0
    while pos + 5 <= len(stream) and stream[pos] == _HANDSHAKE:
        length = int.from_bytes(stream[pos + 3:pos + 5], "big")
        handshake += stream[pos + 5:pos + 5 + length]
        pos += 5 + length
    found: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(handshake):
        kind, length = handshake[pos], int.from_bytes(handshake[pos + 1:pos + 4], "big")
        if pos + 4 + length > len(handshake):
            break  # truncated capture
        found.setdefault(kind, bytes(handshake[pos + 4:pos + 4 + length]))
        pos += 4 + length
    return found


def _server_hello(body: bytes) -> tuple[str | None, int | None]:
    if len(body) < 38:
        return None, None
    version = int.from_bytes(body[:2], "big")
    pos = 35 + body[34]  # version, random, session id
    cipher = int.from_bytes(body[pos:pos + 2], "big") if pos + 2 <= len(body) else None
    pos += 3  # cipher suite, compression method
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big") if pos + 2 <= len(body) else pos
    pos += 2
    while pos + 4 <= min(end, len(body)):
        kind, length = int.from_bytes(body[pos:pos + 2], "big"), int.from_bytes(
            body[pos + 2:pos + 4], "big")
        if kind == _SUPPORTED_VERSIONS and length == 2:
            version = int.from_bytes(body[pos + 4:pos + 6], "big")
        pos += 4 + length
    return _VERSIONS.get(version, f"0x{version:04x}"), cipher


def _certificates(body: bytes) -> tuple[bytes, ...]:
    """TLS 1.2 Certificate message: 3-byte list length, then 3-byte length + DER each."""
    certs, pos = [], 3
    while pos + 3 <= len(body):
        length = int.from_bytes(body[pos:pos + 3], "big")
        if length == 0 or pos + 3 + length > len(body):
            break
        certs.append(body[pos + 3:pos + 3 + length])
        pos += 3 + length
    return tuple(certs)
