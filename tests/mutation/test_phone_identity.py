"""The twin phone's device name comes from its MAC however the topology writes it
(`PhoneIdentity`): colons, dashes and Cisco's dotted form all give `SEP` + 12 hex digits,
the stem of every per-device file the phone asks for (docs/PROTOCOLS.md §7.2)."""

from __future__ import annotations

import pytest

from harness.errors import UsageError
from phone_drivers.emulator.trust_state import PhoneIdentity


@pytest.mark.parametrize("written", ["00:1b:2c:3d:4e:5f", "00-1B-2C-3D-4E-5F",
                                     "001b.2c3d.4e5f", "001B2C3D4E5F"])
def test_every_mac_spelling_gives_one_device_name(written: str) -> None:
    identity = PhoneIdentity(written, "7962")
    assert identity.mac == "001B2C3D4E5F" and identity.name == "SEP001B2C3D4E5F"


@pytest.mark.parametrize("written", ["00:1b:2c:3d:4e", "00_1b_2c_3d_4e_5f", "001b2c3d4e5g"])
def test_a_mac_that_is_not_12_hex_digits_is_refused(written: str) -> None:
    with pytest.raises(UsageError, match="12 hex digits"):
        PhoneIdentity(written, "7962")
