"""The firmware-load phase of a twin boot: fetch `<load>.loads` and its images over TFTP.

Runs after the config is accepted and before registration (docs/HARDWARE.md §1.1 step 7,
§1.3 row 5). Rules are in the pure `firmware_load`; this moves bytes, tells the
console and leaves one `phone.load` event (from, to, outcome) per attempt.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from phone_drivers.emulator import console_lines as lines
from phone_drivers.emulator.firmware_load import (
    NOT_FOUND,
    LoadOutcome,
    LoadRejected,
    LoadResult,
    check_image,
    check_loads,
    wanted_load,
)

if TYPE_CHECKING:
    from phone_drivers.emulator.boot import BootSequence


async def update_load(sequence: BootSequence) -> LoadResult | None:
    """Try to move to the load the config names; None when there is nothing to do."""
    phone = sequence.phone
    running = phone.running_load
    config = phone.firmware.state.config
    wanted = wanted_load(running, config.load_for(phone.model_info.device_type))
    if wanted is None:
        return None
    result = await _attempt(sequence, running, wanted)
    phone.record("phone.load", **{"from": running, "to": wanted,
                                  "outcome": result.outcome.value, "file": result.file,
                                  "detail": result.detail})
    family = phone.model_info.family
    if result.switched:
        phone.emit(lines.load_upgrade(family, running, wanted))
        await asyncio.sleep(phone.profile.flash_write)
    else:
        reason = NOT_FOUND if result.outcome is LoadOutcome.NOT_FOUND else "Load Auth Failed"
        phone.emit(lines.load_failed(family, result.file, reason))
    return result


async def _attempt(sequence: BootSequence, running: str, wanted: str) -> LoadResult:
    name = f"{wanted}.loads"
    data = await sequence.fetch(name)
    if data is None:
        return LoadResult(running, wanted, LoadOutcome.NOT_FOUND, name, "not on the TFTP server")
    try:
        images = check_loads(name, data)
        for image in images:
            body = await sequence.fetch(image)
            if body is None:
                return LoadResult(running, wanted, LoadOutcome.NOT_FOUND, image,
                                  f"listed in {name}, not on the TFTP server")
            check_image(image, body)
    except LoadRejected as exc:
        return LoadResult(running, wanted, LoadOutcome.AUTH_FAILED, exc.file, exc.detail)
    return LoadResult(running, wanted, LoadOutcome.UPGRADED)
