"""Per-model capability table: what the "Unified CM Phone Feature List" report gives.

docs/SECURITY_BY_DEFAULT.md §5: which models support Security by Default decides
whether the cluster serves them signed files and whether they ask for an ITL
at all (§4: non-supporting models get unsigned defaults). The table also holds
what the drivers need per family: console log dialect and the keypad path.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.errors import UsageError


class Family(StrEnum):
    """Console dialect and keypad path follow the family (docs/HARDWARE.md §2)."""

    LEGACY_79XX = "7940"  # 7940/7960: no Security by Default, no ITL requests
    C79X1 = "79x1"  # 7941/7961 and 79x2/797x: `LVL HH:MM:SS.us module: text` console
    C88XX = "88xx"  # 88xx/78xx: `<seq> LVL Mon DD HH:MM:SS.us proc-text` console


@dataclass(frozen=True)
class PhoneModel:
    model: str  # e.g. "7962"
    family: Family
    supports_sbd: bool
    protocols: tuple[str, ...]
    console: str  # how engineers reach its log
    keypad: str  # how to press keys remotely
    http_first: bool = False  # tries HTTP 6970 before TFTP
    device_type: int = 0  # SCCP device type = XMLDefault id (docs/REAL_WIRE.md §3.9)

    @property
    def platform(self) -> str:
        """The CDP platform string, e.g. "Cisco IP Phone 7962"."""
        return f"Cisco IP Phone {self.model}"


_AUX = "AUX serial jack, 9600 8N1 (docs/HARDWARE.md: consoles)"
_SSH = "no public serial console: SSH + web Console Logs"
_CGI = "HTTP CGI/Execute key pushes (web access on)"

MODELS: dict[str, PhoneModel] = {
    m.model: m
    for m in [
        PhoneModel("7940", Family.LEGACY_79XX, False, ("SCCP", "SIP"), _AUX, "manual",
                   device_type=8),
        PhoneModel("7960", Family.LEGACY_79XX, False, ("SCCP", "SIP"), _AUX, "manual",
                   device_type=7),
        PhoneModel("7911", Family.C79X1, True, ("SCCP", "SIP"), "PCB pads, 3.3 V TTL", _CGI,
                   device_type=307),
        PhoneModel("7941", Family.C79X1, True, ("SCCP", "SIP"), _AUX, _CGI,
                   device_type=115),
        PhoneModel("7942", Family.C79X1, True, ("SCCP", "SIP"), _AUX, _CGI,
                   device_type=434),
        PhoneModel("7961", Family.C79X1, True, ("SCCP", "SIP"), _AUX, _CGI,
                   device_type=30018),
        PhoneModel("7962", Family.C79X1, True, ("SCCP", "SIP"), _AUX, _CGI,
                   device_type=404),
        PhoneModel("7965", Family.C79X1, True, ("SCCP", "SIP"), _AUX, _CGI,
                   device_type=436),
        PhoneModel("7975", Family.C79X1, True, ("SCCP", "SIP"), _AUX, _CGI,
                   device_type=437),
        PhoneModel("8841", Family.C88XX, True, ("SIP",), _SSH, _CGI, http_first=True,
                   device_type=683),
        PhoneModel("8845", Family.C88XX, True, ("SIP",), _SSH, _CGI, http_first=True,
                   device_type=36224),
        PhoneModel("8861", Family.C88XX, True, ("SIP",), _SSH, _CGI, http_first=True,
                   device_type=685),
        PhoneModel("8945", Family.C88XX, True, ("SCCP", "SIP"), _SSH, _CGI, http_first=True,
                   device_type=585),
    ]
}


def lookup(model: str) -> PhoneModel:
    """The capability row for `model` ("7962", "CP-7962G" and "7962G" all work)."""
    key = model.upper().removeprefix("CP-").rstrip("G")
    try:
        return MODELS[key]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise UsageError(f"unknown phone model {model!r}; known models: {known}") from None
