"""Firmware under test on the twin (docs/REAL_WIRE.md §5.3): switch, missing files, bad signer.

The default lab names a synthetic SIP42.9-4-2SR3-1S for 7962s; the other cases
point a model at a folder built here and reset that phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.state import FirmwareLoad
from harness.events import Event
from harness.firmware.example import write_example
from harness.firmware.names import factory_load, image_names
from harness.phone_models import Family
from harness.pki import CertRole
from phone_drivers.console import SerialConsole
from phone_drivers.console_patterns import ConsoleEvent, pattern
from phone_drivers.emulator.twin import TwinRack

P7962, P8845, P7960 = "SEP00000A000001", "SEP00000A000002", "SEP00000A000004"
UNDER_TEST = "SIP42.9-4-2SR3-1S"
NEW_8845 = "sip8845_65.14-2-1-0101-26"


def ready(rack: TwinRack, phone: str, after: int = 0) -> Event:
    return rack.events.wait_for(lambda e: e.kind == "phone.ready" and e.phone == phone,
                                15, after=after, what=f"{phone} ready")


def load_events(rack: TwinRack, phone: str, since: int = 0) -> list[Event]:
    return [e for e in rack.events.for_phone(phone, since) if e.kind == "phone.load"]


@pytest.fixture
def console_8845(rack: TwinRack, tmp_path: Path) -> Iterator[SerialConsole]:
    """The 8845's console, open before the test resets the phone."""
    path = rack.phones[P8845].console_path
    assert path is not None
    with SerialConsole(path, name=P8845, log_path=tmp_path / "console.log") as con:
        yield con


def expect(con: SerialConsole, event: ConsoleEvent) -> re.Match[str]:
    return con.expect(pattern(event, Family.C88XX), timeout=10)


def point_8845_at(rack: TwinRack, directory: Path | None) -> int:
    """Make NEW_8845 the 8845's load under test, republish, reset the phone."""
    ready(rack, P8845)
    rack.cluster.state.firmware["8845"] = FirmwareLoad(
        "8845", NEW_8845, str(directory) if directory else None)
    rack.cluster.restart_service("tftp")
    mark = rack.events.mark()
    rack.phones[P8845].reset()
    return mark


def test_7962_switches_to_the_load_under_test_then_registers(rack: TwinRack) -> None:
    ready(rack, P7962)
    events = load_events(rack, P7962)
    assert [(e.data["from"], e.data["to"], e.data["outcome"]) for e in events] == [
        (factory_load("7962", "SIP"), UNDER_TEST, "upgraded")]
    asked = [e.data["file"] for e in rack.events.for_phone(P7962) if e.kind == "tftp.rrq"
             and e.data["result"] == "ok"]
    images = [asked.index(image) for image in image_names(UNDER_TEST)]
    assert asked.index(f"{UNDER_TEST}.loads") < min(images)
    reboots = [e for e in rack.events.for_phone(P7962) if e.kind == "phone.boot"]
    assert [e.data["kind"] for e in reboots] == ["power", "load"]
    assert rack.phones[P7962].software_version == UNDER_TEST
    assert rack.phones[P7962].observe()["registered"]


def test_models_without_a_load_under_test_keep_their_load(rack: TwinRack) -> None:
    ready(rack, P7960)
    ready(rack, P8845)
    assert load_events(rack, P7960) == [] and load_events(rack, P8845) == []
    assert rack.phones[P8845].software_version == factory_load("8845", "SIP")


def test_missing_load_file_keeps_the_running_load_and_registers(
        rack: TwinRack, console_8845: SerialConsole) -> None:
    mark = point_8845_at(rack, None)  # no folder: nothing served under that name
    ready(rack, P8845, after=mark)
    [event] = load_events(rack, P8845, mark)
    assert (event.data["outcome"], event.data["file"]) == ("not_found", f"{NEW_8845}.loads")
    assert rack.phones[P8845].software_version == factory_load("8845", "SIP")
    failed = expect(console_8845, ConsoleEvent.LOAD_FAILED)
    assert (failed["reason"], failed["file"]) == ("File not found", f"{NEW_8845}.loads")


def test_missing_image_keeps_the_running_load(rack: TwinRack, tmp_path: Path) -> None:
    write_example(tmp_path / "fw", "8845", NEW_8845)
    gone = image_names(NEW_8845)[2]
    (tmp_path / "fw" / gone).unlink()
    mark = point_8845_at(rack, tmp_path / "fw")
    ready(rack, P8845, after=mark)
    [event] = load_events(rack, P8845, mark)
    assert (event.data["outcome"], event.data["file"]) == ("not_found", gone)
    assert rack.phones[P8845].software_version == factory_load("8845", "SIP")


def test_load_signed_by_another_key_fails_auth_and_is_not_installed(
        rack: TwinRack, tmp_path: Path, console_8845: SerialConsole) -> None:
    write_example(tmp_path / "fw", "8845", NEW_8845,
                  signer=rack.pki.identity(CertRole.tftp, "cucm1"))
    mark = point_8845_at(rack, tmp_path / "fw")
    ready(rack, P8845, after=mark)
    [event] = load_events(rack, P8845, mark)
    assert (event.data["outcome"], event.data["file"]) == ("auth_failed", f"{NEW_8845}.loads")
    assert rack.phones[P8845].software_version == factory_load("8845", "SIP")
    failed = expect(console_8845, ConsoleEvent.LOAD_FAILED)
    assert (failed["reason"], failed["file"]) == ("Load Auth Failed", f"{NEW_8845}.loads")


def test_good_load_for_another_model_switches_that_model(
        rack: TwinRack, tmp_path: Path, console_8845: SerialConsole) -> None:
    write_example(tmp_path / "fw", "8845", NEW_8845)
    mark = point_8845_at(rack, tmp_path / "fw")
    ready(rack, P8845, after=mark)
    [event] = load_events(rack, P8845, mark)
    assert event.data["outcome"] == "upgraded"
    upgrade = expect(console_8845, ConsoleEvent.LOAD_UPGRADE)
    assert (upgrade["running"], upgrade["load"]) == (factory_load("8845", "SIP"), NEW_8845)
    banner = expect(console_8845, ConsoleEvent.POWER_UP)  # the reboot into the new load
    assert banner["load"] == NEW_8845
    assert rack.phones[P8845].software_version == NEW_8845
    second = rack.events.mark()
    rack.phones[P8845].reset()  # flash kept: no second upgrade
    ready(rack, P8845, after=second)
    assert load_events(rack, P8845, second) == []


def test_autoregistering_phone_takes_its_load_from_xml_default(rack: TwinRack,
                                                               tmp_path: Path) -> None:
    write_example(tmp_path / "fw", "8845", NEW_8845)
    ready(rack, P8845)
    rack.cluster.set_firmware("8845", NEW_8845, str(tmp_path / "fw"))
    rack.cluster.remove_phone(P8845)
    rack.cluster.restart_service("tftp")
    mark = rack.events.mark()
    rack.phones[P8845].reset()
    ready(rack, P8845, after=mark)
    configs = [e.data["name"] for e in rack.events.for_phone(P8845, mark)
               if e.kind == "phone.config" and e.data["outcome"] == "accepted"]
    assert configs and configs[0].startswith("XMLDefault.cnf.xml")
    [event] = load_events(rack, P8845, mark)
    assert (event.data["to"], event.data["outcome"]) == (NEW_8845, "upgraded")
