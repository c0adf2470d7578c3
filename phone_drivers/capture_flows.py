"""What phones did on the wire, read from captured packets (pure: packets in, flows out).

Why hand-written: scapy dissects TFTP only on UDP port 69 (docs/HARDWARE.md §4.2) while CUCM
answers from ephemeral ports and test servers listen on high ports, so RRQs are found
by destination port and replies by the client's TID (its address and port), then
decoded with `TFTP(bytes(payload))`. HTTP 6970 file fetches, SIP REGISTERs and the TLS
handshakes (`capture_tls`) are recognised from payload starts. Flows are grouped per
phone via the caller's address → phone-name map; unknown addresses keep their IP.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.tftp import TFTP

from phone_drivers.capture_endpoints import Endpoint, Service
from phone_drivers.capture_tls import TlsHandshake, TlsTracker

__all__ = ["FileRead", "PhoneFlows", "SipRegister", "TlsHandshake", "analyse"]
_RRQ, _DATA, _ERROR, _OACK = 1, 3, 5, 6


@dataclass
class FileRead:
    """One file request: `outcome` is `ok` (DATA/OACK/HTTP 2xx), `error` or `no reply`;
    `error_code` is the TFTP error code or the HTTP status."""

    time: float
    client: str
    server: str
    file: str
    transport: str = "tftp"
    outcome: str = "no reply"
    error_code: int | None = None
    error_text: str = ""
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SipRegister:
    time: float
    client: str
    server: str
    transport: str
    uri: str
    headers: dict[str, str]


@dataclass
class PhoneFlows:
    """Everything one phone did, each list in capture order."""

    files: list[FileRead] = field(default_factory=list)
    tls: list[TlsHandshake] = field(default_factory=list)
    sip: list[SipRegister] = field(default_factory=list)

    @property
    def tftp(self) -> list[FileRead]:
        return [f for f in self.files if f.transport == "tftp"]


def _ports(endpoints: Iterable[Endpoint], *services: Service) -> set[tuple[str, int]]:
    return {(e.host, e.port) for e in endpoints if e.service in services}


def analyse(packets: Iterable[Any], endpoints: Iterable[Endpoint],
            phones: Mapping[str, str]) -> dict[str, PhoneFlows]:
    """Group the capture into per-phone flows (keyed by phone name or client IP)."""
    endpoints = list(endpoints)
    tftp, http = _ports(endpoints, Service.TFTP), _ports(endpoints, Service.HTTP)
    sip = _ports(endpoints, Service.SIP)
    tls = TlsTracker({(e.host, e.port): e.service.value for e in endpoints if e.service.tls})
    flows: dict[str, PhoneFlows] = {}
    pending: dict[tuple[str, int], FileRead] = {}  # TFTP client TID → its open request
    http_open: dict[tuple[str, int, str, int], list[FileRead]] = {}
    seen_sip: set[tuple[str, int, int]] = set()

    def owner(address: str) -> PhoneFlows:
        return flows.setdefault(phones.get(address, address), PhoneFlows())

    for pkt in packets:
        if IP not in pkt:
            continue
        src, dst, when = pkt[IP].src, pkt[IP].dst, float(pkt.time)
        if UDP in pkt:
            sport, dport, payload = pkt[UDP].sport, pkt[UDP].dport, bytes(pkt[UDP].payload)
            if (dst, dport) in tftp and payload[:2] == b"\x00\x01":
                read = _rrq(payload, when, f"{src}:{sport}", f"{dst}:{dport}")
                earlier = pending.get((src, sport))
                if earlier is None or earlier.file != read.file:  # else a retransmitted RRQ
                    owner(src).files.append(read)
                    pending[(src, sport)] = read
            elif (dst, dport) in pending and len(payload) >= 2:
                _tftp_reply(pending, (dst, dport), payload)
            elif (dst, dport) in sip and payload.startswith(b"REGISTER "):
                owner(src).sip.append(_register(payload, when, src, sport, dst, dport, "udp"))
            continue
        if TCP not in pkt:
            continue
        sport, dport, payload = pkt[TCP].sport, pkt[TCP].dport, bytes(pkt[TCP].payload)
        tls.add(src, sport, dst, dport, int(pkt[TCP].seq), payload, when)
        if (dst, dport) in http and payload.startswith(b"GET "):
            read = FileRead(when, f"{src}:{sport}", f"{dst}:{dport}", _http_path(payload), "http")
            owner(src).files.append(read)
            http_open.setdefault((src, sport, dst, dport), []).append(read)
        elif (src, sport) in http and payload.startswith(b"HTTP/"):
            waiting = http_open.get((dst, dport, src, sport))
            if waiting:
                _http_reply(waiting.pop(0), payload)
        elif (dst, dport) in sip and payload.startswith(b"REGISTER "):
            key = (src, sport, int(pkt[TCP].seq))
            if key not in seen_sip:  # a TCP retransmission is the same REGISTER
                seen_sip.add(key)
                owner(src).sip.append(_register(payload, when, src, sport, dst, dport, "tcp"))
    for handshake in tls.handshakes():
        owner(handshake.client.rsplit(":", 1)[0]).tls.append(handshake)
    return flows


def _rrq(payload: bytes, when: float, client: str, server: str) -> FileRead:
    packet = TFTP(payload)
    request = packet.payload
    options = {o.oname.decode(errors="replace"): o.value.decode(errors="replace")
               for o in getattr(request.payload, "options", [])}
    name = bytes(getattr(request, "filename", b"") or b"").decode(errors="replace")
    return FileRead(when, client, server, name, options=options)


def _tftp_reply(pending: dict[tuple[str, int], FileRead], tid: tuple[str, int],
                payload: bytes) -> None:
    read = pending.pop(tid)  # only the first reply decides the outcome
    opcode = int.from_bytes(payload[:2], "big")
    if opcode in (_DATA, _OACK):
        read.outcome = "ok"
    elif opcode == _ERROR:
        error = TFTP(payload).payload
        read.outcome, read.error_code = "error", int(error.errorcode)
        read.error_text = bytes(error.errormsg or b"").decode(errors="replace")
    else:
        read.outcome, read.error_text = "error", f"unexpected TFTP opcode {opcode}"


def _http_path(payload: bytes) -> str:
    target = payload.split(b"\r\n", 1)[0].split(b" ")[1:2]
    return target[0].decode(errors="replace").lstrip("/") if target else ""


def _http_reply(read: FileRead, payload: bytes) -> None:
    status = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})", payload)
    code = int(status.group(1)) if status else 0
    read.outcome = "ok" if 200 <= code < 300 else "error"
    read.error_code = None if read.outcome == "ok" else code


_COMPACT = {"f": "from", "t": "to", "m": "contact", "i": "call-id"}


def _register(payload: bytes, when: float, src: str, sport: int, dst: str, dport: int,
              transport: str) -> SipRegister:
    head = payload.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    uri = head[0].split(" ")[1] if len(head[0].split(" ")) > 1 else ""
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        key = _COMPACT.get(name.strip().lower(), name.strip().lower())
        headers.setdefault(key, value.strip())
    return SipRegister(when, f"{src}:{sport}", f"{dst}:{dport}", transport, uri, headers)
