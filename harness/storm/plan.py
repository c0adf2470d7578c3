"""What one storm is asked to do, checked before a single packet is sent.

Bad input is a user mistake (`UsageError`: one line, exit 2), so every option is
parsed and bounded here rather than failing later inside thousands of phones.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.phone_models import MODELS

TFTP_PORT, TVS_PORT, SIP_PORT = 69, 2445, 5060
DEFAULT_MODELS = ("7962", "8845", "7942", "8861", "7965")  # the twin lab's mix
DEFAULT_MAC_BASE = 0xA0000000  # the twin lab's first phone, SEP0000A0000000
MAX_PHONES = 60_000

Server = tuple[str, int]


@dataclass(frozen=True)
class StormPlan:
    """The servers to storm and how many phones of which models, how fast."""

    tftp: tuple[Server, ...]
    phones: int
    models: tuple[str, ...] = DEFAULT_MODELS
    tvs: tuple[Server, ...] = ()
    https: str | None = None
    sip: Server | None = None
    ramp: float = 0.0  # seconds over which the phones are started, evenly
    timeout: float = 300.0  # the whole storm; phones not done by then fail
    mac_base: int = DEFAULT_MAC_BASE
    source: str | None = None  # CIDR the phones take their addresses from, one each
    # per packet: the twin's realistic profile, what a phone waits; a server that queues
    # requests (CUCM's TFTP, phonelab's: docs/DESIGN.md) is slow, not dead, at 1 s
    tftp_timeout: float = 2.0
    tftp_retries: int = 3
    request_timeout: float = 10.0  # one TVS, HTTPS or SIP exchange

    def mac(self, index: int) -> str:
        return f"{self.mac_base + index:012X}"

    def model(self, index: int) -> str:
        return self.models[index % len(self.models)]

    def start_offset(self, index: int) -> float:
        """Seconds after the storm's start at which phone `index` powers on."""
        return self.ramp * index / self.phones if self.phones > 1 else 0.0

    def addresses(self) -> Iterator[str]:
        """One source address per phone from `source`, else the system's choice."""
        if self.source is None:
            while True:
                yield "0.0.0.0"
        network = ipaddress.ip_network(self.source, strict=False)
        while True:  # phones beyond the network's size share addresses round-robin
            yield from (str(a) for a in network.hosts())


def parse_models(text: str) -> tuple[str, ...]:
    models = tuple(m.strip() for m in text.split(",") if m.strip())
    if not models:
        raise UsageError("--models names no model")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise UsageError(f"--models: unknown model {unknown[0]!r}; known: "
                         + ", ".join(sorted(MODELS)))
    no_sbd = [m for m in models if not MODELS[m].supports_sbd]
    if no_sbd:
        raise UsageError(f"--models: {no_sbd[0]} has no Security by Default (no trust lists "
                         "to storm); pick models from 7911 up")
    return models


def parse_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise UsageError(f"--https: {text!r} is not an https://HOST[:PORT]/PATH URL")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise UsageError(f"--https: {text!r} has a bad port") from None
    return text


def parse_source(text: str) -> str:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise UsageError(f"--source: {text!r} is not an address or network (CIDR)") from None
    if network.version != 4:
        raise UsageError("--source: phones speak IPv4 only")
    return str(network)


def check_numbers(phones: int, ramp: float, timeout: float) -> None:
    if not 1 <= phones <= MAX_PHONES:
        raise UsageError(f"--phones {phones}: give 1 to {MAX_PHONES}")
    if not math.isfinite(ramp) or not 0 <= ramp <= 3600:
        raise UsageError(f"--ramp {ramp}: give seconds from 0 to 3600")
    if not math.isfinite(timeout) or not 0 < timeout <= 86400:
        raise UsageError(f"--timeout {timeout}: give seconds above 0, up to 86400")
    if ramp >= timeout:
        raise UsageError(f"--ramp {ramp:g} must be shorter than --timeout {timeout:g}")
