"""The `realistic` timing profile: boots take seconds, and waits show progress meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

from lab_topology import load_lab
from phone_drivers.emulator.profiles import PROFILES
from phone_drivers.emulator.twin import TwinRack
from tests.isolated_lab import isolated_twin_lab
from tests.twin.test_twin_boot import P7962


def test_realistic_boot_is_slow_and_the_wait_reports_progress(tmp_path: Path) -> None:
    lab = load_lab(isolated_twin_lab(tmp_path, 66))
    realistic = PROFILES["realistic"]
    twin = TwinRack(lab, lab.racks[0], tmp_path / "twin", profile="realistic", consoles=False)
    started = time.monotonic()
    twin.start()
    try:
        progress: list[float] = []
        twin.events.wait_for(lambda e: e.kind == "phone.ready" and e.phone == P7962, 60,
                             what="registration", on_progress=progress.append)
    finally:
        twin.stop()
    took = time.monotonic() - started
    assert took >= realistic.power_to_link + realistic.link_to_dhcp
    assert len(progress) >= 5 and progress == sorted(progress)
