"""A raw SCCP station written from docs/REAL_WIRE.md §3 with `struct` only (not our codec).

The endpoint tests talk to `SccpEndpoint` through this, so a codec bug cannot
hide behind itself: every offset below is the spec table's, typed in again.
Not a test module itself.
"""

from __future__ import annotations

import socket
import struct

KEEPALIVE = 0x0000
REGISTER = 0x0001
BUTTON_TEMPLATE_REQ = 0x000E
CAPABILITIES_RES = 0x0010
UNREGISTER = 0x0027
REGISTER_ACK = 0x0081
BUTTON_TEMPLATE = 0x0097
CAPABILITIES_REQ = 0x009B
REGISTER_REJECT = 0x009D
RESET = 0x009F
KEEPALIVE_ACK = 0x0100
UNREGISTER_ACK = 0x0118


def frame(message_id: int, body: bytes = b"", version: int = 0) -> bytes:
    """§3.1: length = 4 + body, header version, message id, body."""
    return struct.pack("<III", 4 + len(body), version, message_id) + body


def register_body(device: str, *, size: int = 124, ip: str = "127.0.0.1",
                  device_type: int = 404, protocol: int = 17, mac: bytes | None = None,
                  load: str = "SCCP42.9-4-2SR3-1S", instance: int = 0) -> bytes:
    """§3.3 Register, cut to `size` bytes (68 = 7960 8.1.2, 124 = 7941, 172 = with stamp)."""
    mac_field = mac if mac is not None else bytes.fromhex(device[3:]) + bytes(6)
    body = (device.encode().ljust(16, b"\0")             # 0 device name
            + struct.pack("<I", 0)                        # 16 user id
            + struct.pack("<I", instance)                 # 20 instance
            + socket.inet_aton(ip)                        # 24 station IP, network order
            + struct.pack("<I", device_type)              # 28
            + struct.pack("<I", 5)                        # 32 max streams
            + struct.pack("<I", 0)                        # 36 active streams
            + bytes([protocol, 0])                        # 40 protocol, 41 unknown
            + struct.pack("<H", 0x8572)                   # 42 features
            + struct.pack("<II", 1, 0)                    # 44 max/active conferences
            + mac_field                                   # 52 MAC (12)
            + struct.pack("<II", 3, 2)                    # 64 IPv4 scope, 68 max lines
            + bytes(16) + struct.pack("<I", 0)            # 72 IPv6, 88 scope
            + load.encode().ljust(32, b"\0")              # 92 firmware load name
            + b"stamp-1234".ljust(48, b"\0"))             # 124 config version stamp
    assert len(body) == 172
    return body[:size]


class Station:
    """A blocking TCP (or already-wrapped TLS) socket speaking SCCP by hand."""

    def __init__(self, sock: socket.socket, timeout: float = 3.0) -> None:
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buffer = b""

    @classmethod
    def connect(cls, address: tuple[str, int], timeout: float = 3.0) -> Station:
        return cls(socket.create_connection(address, timeout=timeout), timeout)

    def send(self, message_id: int, body: bytes = b"", version: int = 0x11) -> None:
        self.sock.sendall(frame(message_id, body, version))

    def receive(self) -> tuple[int, int, bytes] | None:
        """(header version, message id, body), or None when the server closed."""
        while True:
            if len(self.buffer) >= 8:
                length, version = struct.unpack_from("<II", self.buffer)
                if len(self.buffer) >= 8 + length:
                    (message_id,) = struct.unpack_from("<I", self.buffer, 8)
                    body = self.buffer[12:8 + length]
                    self.buffer = self.buffer[8 + length:]
                    return version, message_id, body
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buffer += chunk

    def expect(self, message_id: int) -> bytes:
        got = self.receive()
        assert got is not None, f"closed while waiting for {message_id:#x}"
        assert got[1] == message_id, f"got {got[1]:#x}, wanted {message_id:#x}"
        return got[2]

    def closed(self) -> bool:
        """True once the server has closed (reading skips anything still queued)."""
        try:
            while self.receive() is not None:
                pass
        except (ConnectionResetError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.sock.close()
