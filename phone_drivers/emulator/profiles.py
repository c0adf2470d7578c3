"""Timing profiles for twin phones: `fast` for CI, `realistic` to exercise waits.

docs/HARDWARE.md §1.6 gives only fragments (PoE grant < 1 s, link ~4 s, first CDP
~8 s, DHCP ~5 s, CTL→TVS ~0.9 s) and leaves power-on → registered open (Q2);
`realistic` strings those fragments together so the harness's documented
5- and 10-minute bounds and its progress display are really exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UsageError


@dataclass(frozen=True)
class TimingProfile:
    name: str
    power_to_link: float  # PoE granted → link up
    link_to_dhcp: float  # CDP/VLAN discovery, then DHCP
    per_file: float  # think time between TFTP requests
    before_register: float
    config_retry: float  # wait before retrying when no usable config was obtained
    tftp_timeout: float = 1.0
    tvs_timeout: float = 10.0
    flash_write: float = 0.0  # a verified load written to flash before the reboot into it
    key_pause: float = 0.5  # CGI keypad wait between key pushes (docs/REAL_WIRE.md §6.3: 0.5-2 s)
    keepalive_scale: float = 1.0  # × the SCCP keepalive interval the call manager acks


PROFILES: dict[str, TimingProfile] = {
    "fast": TimingProfile("fast", 0.0, 0.0, 0.0, 0.0, config_retry=0.5, tftp_timeout=1.0,
                          tvs_timeout=5.0, key_pause=0.02, keepalive_scale=0.02),
    "realistic": TimingProfile("realistic", 4.0, 9.0, 0.05, 1.5, config_retry=30.0,
                               tftp_timeout=2.0, tvs_timeout=10.0, flash_write=5.0),
}


def profile(name: str) -> TimingProfile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UsageError(f"unknown timing profile {name!r}; use one of: {known}") from None
