"""The Backend seam: one object per backend, chosen from the topology, and no `backend ==`
checks left in the plugin or the testcases."""

from __future__ import annotations

import pickle
import re
import tempfile
from pathlib import Path

import pytest

from fixtures.backend import (
    BackendOptions,
    HardwareBackend,
    TwinBackend,
    backend_for,
)
from fixtures.features import missing
from harness.errors import OperatorNeeded, PhoneOutOfService, RackBroken
from harness.phone_models import lookup
from lab_topology import DEFAULT_LAB, LabSpec, load_lab
from phone_drivers.console import SerialConsole
from phone_drivers.keypad import ConsoleKeypad, Keypad, ManualKeypad
from phone_drivers.phone import LabPhone
from phone_drivers.poe import IosPoePort, SwitchConnection

ROOT = Path(__file__).resolve().parents[2]
RACK = ROOT / "lab_topology" / "rack-example.yaml"
STRING_CHECK = re.compile(r"""\bbackend\s*[!=]=|[!=]=\s*["'](twin|hardware)["']"""
                          r"""|["'](twin|hardware)["']\s*[!=]=""")


def test_no_backend_string_checks_remain_in_the_plugin_or_the_testcases() -> None:
    for sample in ('if lab.backend == "twin":', "spec.backend != 'hardware'",
                   'if "hardware" != kind'):
        assert STRING_CHECK.search(sample), sample  # the check itself can fail
    files = sorted(p for folder in ("fixtures", "testcases") for p in (ROOT / folder).rglob("*.py"))
    assert len(files) > 10 and ROOT / "fixtures" / "backend.py" in files
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in files
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if STRING_CHECK.search(line)]
    assert found == [], "ask the Backend instead:\n" + "\n".join(found)


def test_the_topology_picks_the_backend() -> None:
    assert isinstance(backend_for(load_lab(DEFAULT_LAB), BackendOptions()), TwinBackend)
    hardware = backend_for(load_lab(RACK), BackendOptions())
    assert isinstance(hardware, HardwareBackend) and hardware.name == "hardware"


def test_marker_policy_is_the_backends(pytester: pytest.Pytester) -> None:
    twin = TwinBackend(load_lab(DEFAULT_LAB), BackendOptions())
    rack = HardwareBackend(load_lab(RACK), BackendOptions())
    allowed = HardwareBackend(load_lab(RACK), BackendOptions(destructive=True))
    hw_only, destructive, keys, plain = pytester.getitems("""
import pytest

@pytest.mark.hardware_only
def test_a(): pass

@pytest.mark.destructive
def test_b(): pass

@pytest.mark.needs_keys
def test_c(): pass

def test_d(): pass
""")
    assert twin.collection_skip(hw_only) == "hardware_only: needs real phone firmware"
    assert twin.collection_skip(destructive) is None
    assert "--phonelab-destructive" in str(rack.collection_skip(destructive))
    assert allowed.collection_skip(destructive) is None and rack.collection_skip(hw_only) is None
    assert [twin.presses_keys(i) for i in (destructive, keys, plain)] == [False, True, False]
    assert [rack.presses_keys(i) for i in (destructive, keys, plain)] == [True, True, False]


def test_console_feature_firmware_and_bounds_are_the_backends() -> None:
    lab = load_lab(RACK)
    no_console = lab.racks[0].model_copy(update={"phones": [
        lab.racks[0].phones[0].model_copy(update={"console": None})]})
    rack = HardwareBackend(lab, BackendOptions())
    assert rack.console_missing(lab.racks[0]) is None
    assert rack.console_missing(no_console) == "no console for SEP0021555542E6"
    assert TwinBackend(load_lab(DEFAULT_LAB), BackendOptions()).console_missing(no_console) is None
    assert rack.firmware(lab.racks) == "as installed on the rack"
    document = lab.model_dump(mode="json")
    document["racks"][0]["firmware"] = [{"model": "7962", "load": "SIP42.9-4-2SR3-1S"}]
    assert rack.firmware(LabSpec.model_validate(document).racks) == "7962 SIP42.9-4-2SR3-1S"
    assert "twin firmware model" in TwinBackend(lab, BackendOptions()).firmware(lab.racks)
    assert rack.bounds.registration == 600
    assert TwinBackend(lab, BackendOptions()).bounds.registration < 600
    assert TwinBackend(lab, BackendOptions(profile="realistic")).bounds.registration == 600


def test_only_the_twins_phones_are_relied_on_to_say_they_are_stranded() -> None:
    """The stranded line is the twin's wording: a rack judges stranded phones by what they
    fail to do, and the scenario about the phone's own report skips there."""
    rack_lab, twin_lab = load_lab(RACK), load_lab(DEFAULT_LAB)
    rack = HardwareBackend(rack_lab, BackendOptions())
    twin = TwinBackend(twin_lab, BackendOptions())
    assert twin.stranded_report_missing(twin_lab.racks[0]) is None
    assert "unconfirmed" in (rack.stranded_report_missing(rack_lab.racks[0]) or "")
    assert missing(rack, rack_lab.racks[0], ("stranded_report",)) == \
        rack.stranded_report_missing(rack_lab.racks[0])
    assert missing(twin, twin_lab.racks[0], ("stranded_report",)) is None


def test_pki_lives_per_session_on_the_twin_and_per_lab_and_rack_on_hardware(
    tmp_path: Path,
) -> None:
    rack_lab, twin_lab = load_lab(RACK), load_lab(DEFAULT_LAB)
    rack = HardwareBackend(rack_lab, BackendOptions(pki_dir=tmp_path))
    home = rack.pki_home(rack_lab.racks[0])
    assert home == tmp_path / "lab3" / "rack-a"
    template = rack.pki_template(rack_lab.racks[0])
    assert template == home / "pki" and (template / "manifest.json").exists()
    assert not (template / "phones").exists(), "rack phones bring their own MICs"
    stamp = (template / "manifest.json").stat().st_mtime_ns
    assert rack.pki_template(rack_lab.racks[0]) == template  # created once, then kept
    assert (template / "manifest.json").stat().st_mtime_ns == stamp
    twin = TwinBackend(twin_lab, BackendOptions(pki_dir=tmp_path))
    assert twin.pki_home(twin_lab.racks[0]) != twin.pki_home(twin_lab.racks[0])  # per session
    first = twin.pki_template(twin_lab.racks[0])
    assert tmp_path not in first.parents
    assert len(list((first / "phones").iterdir())) >= len(twin_lab.racks[0].phones)


def phone(keypad: Keypad) -> LabPhone:
    power = IosPoePort(SwitchConnection(host="127.0.0.1", username="u", password="p"),
                       "Gi1/0/1")  # connects only when used; never used here
    return LabPhone("SEP00000A000001", lookup("7962"), "SIP", power, keypad)


def test_keys_by_hand_need_an_operator_before_anything_is_powered(tmp_path: Path) -> None:
    lab = load_lab(DEFAULT_LAB)
    unattended = TwinBackend(lab, BackendOptions())
    family = lookup("7962").family
    manual = phone(ManualKeypad(family, unattended._confirm))
    with pytest.raises(OperatorNeeded, match=r"by hand on SEP00000A000001 \(manual keypad\)"):
        unattended.require_operator([manual])
    TwinBackend(lab, BackendOptions(interactive=True)).require_operator([manual])
    with pytest.raises(OperatorNeeded, match="needs_keys"):  # an unmarked test, at the step
        manual.erase_itl()
    console = SerialConsole("loop://", name="SEP00000A000001", log_path=tmp_path / "c.log")
    with console.open():
        unattended.require_operator([phone(ConsoleKeypad(console, family))])


def test_typed_lab_errors_survive_pickling_with_their_fields() -> None:
    broken = pickle.loads(pickle.dumps(RackBroken("console", "console gone")))
    assert (broken.part, str(broken)) == ("console", "console gone")
    lost = pickle.loads(pickle.dumps(PhoneOutOfService("SEP00000A000001", "no keys")))
    assert (lost.phone, lost.reason) == ("SEP00000A000001", "no keys")
    assert str(lost) == "SEP00000A000001 is out of service: no keys"


def test_the_twins_session_pki_is_removed_at_close(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # mkdtemp: this test's folder
    lab = load_lab(DEFAULT_LAB)
    twin = TwinBackend(lab, BackendOptions())
    template = twin.pki_template(lab.racks[0])
    assert (template / "manifest.json").exists()
    assert template.parent.parent == tmp_path
    twin.close()
    assert not template.parent.exists(), "a twin session left its PKI behind"
    assert list(tmp_path.iterdir()) == []


def test_closing_the_hardware_backend_keeps_the_racks_pki(tmp_path: Path) -> None:
    lab = load_lab(DEFAULT_LAB)
    hardware = HardwareBackend(lab, BackendOptions(pki_dir=tmp_path))
    home = hardware.pki_home(lab.racks[0])
    home.mkdir(parents=True, exist_ok=True)
    (home / "kept").write_text("the rack's PKI lives for good")
    hardware.close()
    assert (home / "kept").exists()
