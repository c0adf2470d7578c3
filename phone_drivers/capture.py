"""Packet capture around a test step: what each phone fetched, from whom, with what result.

Same driver for the lab NIC and the twin's loopback (docs/ARCHITECTURE.md principle 1). The
listen socket is opened in `start()` — not in scapy's sniffer thread — so a missing
privilege (root or CAP_NET_RAW), a missing libpcap (BPF needs it) or a wrong interface
surfaces at once as `CaptureUnavailable`, a `LabError` with a `reason` that pytest code
turns into a skip, instead of an exception lost in a thread. Loopback duplicates (each
packet seen outgoing and incoming) are removed with the BPF `inbound` qualifier on
loopback interfaces only; `conf.use_pcap = True` works too (both verified here) but is
process-global scapy state that would change other users' sockets.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scapy.config import conf
from scapy.error import Scapy_Exception
from scapy.sendrecv import AsyncSniffer
from scapy.utils import wrpcap

from harness.errors import LabError
from phone_drivers.capture_endpoints import Endpoint, Service, build_filter
from phone_drivers.capture_flows import FileRead, PhoneFlows, SipRegister, TlsHandshake, analyse

__all__ = ["CaptureResult", "CaptureUnavailable", "Endpoint", "FileRead", "PacketCapture",
           "PhoneFlows", "Service", "SipRegister", "TlsHandshake"]
_ARPHRD_LOOPBACK = 772


class CaptureUnavailable(LabError):
    """Capturing cannot work on this machine/run; `reason` says why (for a skip)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"packet capture unavailable: {reason}")
        self.reason = reason


@dataclass
class CaptureResult:
    pcap: Path
    packets: int
    phones: dict[str, PhoneFlows]

    def flows(self, phone: str) -> PhoneFlows:
        """The flows of `phone` (empty if it sent nothing)."""
        return self.phones.get(phone, PhoneFlows())

    def describe(self) -> str:
        """A readable summary for failure messages and report attachments."""
        out = [f"{self.packets} packets, pcap {self.pcap}"]
        for phone, flows in sorted(self.phones.items()):
            out += [f"{phone}: {f.transport} {f.file} -> {f.outcome}"
                    f"{'' if f.error_code is None else f' ({f.error_code} {f.error_text})'}"
                    for f in flows.files]
            out += [f"{phone}: tls {t.service} {t.server} {t.version or '?'}" for t in flows.tls]
            out += [f"{phone}: sip REGISTER {r.uri} over {r.transport}" for r in flows.sip]
        return "\n".join(out)


def _is_loopback(iface: str) -> bool:
    try:
        kind = Path(f"/sys/class/net/{iface}/type").read_text().strip()
    except OSError:
        raise CaptureUnavailable(f"no network interface named {iface!r}") from None
    return kind == str(_ARPHRD_LOOPBACK)


class PacketCapture:
    """`with PacketCapture(endpoints, iface="lo", pcap_path=..., phones={ip: name}) as cap:`
    then `cap.result` (also returned by `stop()`). `phones` maps source IP → phone name.
    `promisc` only for a SPAN/mirror port; capturing on the TFTP host itself needs none."""

    def __init__(self, endpoints: Sequence[Endpoint], *, pcap_path: Path, iface: str = "lo",
                 phones: Mapping[str, str] | None = None, settle: float = 0.2,
                 promisc: bool = False) -> None:
        self.endpoints, self.pcap_path, self.iface = list(endpoints), pcap_path, iface
        self.phones, self.settle, self.promisc = dict(phones or {}), settle, promisc
        self.filter = build_filter(self.endpoints, inbound_only=_is_loopback(iface))
        self.result: CaptureResult | None = None
        self._packets: list[Any] = []
        self._socket: Any = None
        self._sniffer: Any = None

    def start(self) -> PacketCapture:
        """Open the listen socket and sniff; a second call (e.g. from `with`) is a no-op."""
        if self._sniffer is not None or self.result is not None:
            return self
        if ctypes.util.find_library("pcap") is None:
            raise CaptureUnavailable("libpcap is not installed (Debian: apt-get install "
                                     "libpcap0.8); scapy needs it to compile BPF filters")
        try:
            self._socket = conf.L2listen(iface=self.iface, filter=self.filter,
                                         promisc=self.promisc)
        except PermissionError:
            raise CaptureUnavailable(f"sniffing on {self.iface} needs root or CAP_NET_RAW "
                                     f"(running as uid {os.geteuid()})") from None
        except (OSError, Scapy_Exception) as exc:
            raise CaptureUnavailable(f"cannot listen on {self.iface}: {exc}") from exc
        self._sniffer = AsyncSniffer(opened_socket=self._socket, store=False,
                                     prn=self._packets.append)
        self._sniffer.start()
        deadline = time.monotonic() + 2.0  # so an immediate stop() finds it running
        while not self._sniffer.running and self._sniffer.thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        return self

    def stop(self) -> CaptureResult:
        """Let in-flight packets arrive, stop, write the pcap and analyse the flows."""
        if self.result is not None:
            return self.result
        if self._sniffer is None:
            raise LabError("packet capture stopped before it was started")
        self._wait_quiet()
        sniffer, self._sniffer = self._sniffer, None
        try:
            if sniffer.running:
                sniffer.stop(join=True)
            else:
                sniffer.join(timeout=1.0)
        except Exception as exc:  # scapy re-raises its thread's error here
            raise LabError(f"packet capture on {self.iface} failed: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                self._socket.close()
        packets = list(self._packets)
        self.pcap_path.parent.mkdir(parents=True, exist_ok=True)
        wrpcap(str(self.pcap_path), packets, linktype=None if packets else 1)
        self.result = CaptureResult(self.pcap_path, len(packets),
                                    analyse(packets, self.endpoints, self.phones))
        # the per-phone flow summary beside the pcap, for reports (pcaps are download-only)
        self.pcap_path.with_suffix(".flows.txt").write_text(self.result.describe() + "\n")
        return self.result

    def __enter__(self) -> PacketCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._sniffer is not None:
            self.stop()

    def _wait_quiet(self) -> None:
        """Packets already sent may still sit in the socket buffer: wait until the count
        is stable for `settle` seconds (at most 10 x settle)."""
        deadline = time.monotonic() + 10 * self.settle
        count = -1
        while time.monotonic() < deadline and count != len(self._packets):
            count = len(self._packets)
            time.sleep(self.settle)
