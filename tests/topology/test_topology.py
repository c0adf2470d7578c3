"""Topology files: the examples load, and each class of mistake gets a clear message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import UsageError
from lab_topology import DEFAULT_LAB, load_lab, parse_lab, phone_address

EXAMPLES = sorted(Path(DEFAULT_LAB).parent.glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_labs_load(path: Path) -> None:
    lab = load_lab(path)
    assert lab.racks and all(rack.phones for rack in lab.racks)


def test_default_twin_lab_has_several_families_and_a_non_sbd_model() -> None:
    lab = load_lab(DEFAULT_LAB)
    models = {p.model for p in lab.racks[0].phones}
    assert {"7962", "8845"} <= models
    assert "7960" in models  # no Security by Default: gets unsigned defaults


def base() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(DEFAULT_LAB.read_text()))


def error_of(document: dict[str, Any]) -> str:
    with pytest.raises(UsageError) as info:
        parse_lab(document, "lab.yaml")
    return str(info.value)


def test_unknown_key_names_the_path_and_the_fix() -> None:
    doc = base()
    doc["racks"][0]["phones"][1]["colour"] = "red"
    assert error_of(doc) == "lab.yaml: racks[0].phones[1].colour: unknown key " \
                            "(remove it or check its spelling)"


def test_duplicate_mac_is_refused() -> None:
    doc = base()
    doc["racks"][0]["phones"][1]["name"] = doc["racks"][0]["phones"][0]["name"]
    doc["racks"][0]["phones"][1]["port"] = "Gi1/0/9"
    message = error_of(doc)
    assert "duplicate phone SEP00000A000001" in message and "each MAC may appear once" in message


def test_phone_on_a_missing_switch_is_refused() -> None:
    doc = base()
    doc["racks"][0]["phones"][0]["switch"] = "sw9"
    message = error_of(doc)
    assert "racks[0]" in message and "switch 'sw9', which is not defined" in message


def test_two_phones_on_one_switch_port_are_refused() -> None:
    doc = base()
    doc["racks"][0]["phones"][1]["port"] = "GigabitEthernet1/0/1"
    assert "port GigabitEthernet1/0/1 on sw1 already has a phone" in error_of(doc)


def test_bad_port_name_is_refused() -> None:
    doc = base()
    doc["racks"][0]["phones"][0]["port"] = "port one"
    assert "racks[0].phones[0].port: must be an interface like Gi1/0/3" in error_of(doc)


@pytest.mark.parametrize("address", ["127.0.1.300", "cucm-one", ""])
def test_bad_address_is_refused(address: str) -> None:
    doc = base()
    doc["racks"][0]["cluster"]["nodes"][0]["address"] = address
    message = error_of(doc)
    assert "racks[0].cluster.nodes[0].address" in message and "IPv4 address" in message


def test_twin_addresses_must_be_loopback() -> None:
    doc = base()
    doc["racks"][0]["cluster"]["nodes"][0]["address"] = "10.0.0.1"
    assert "must be in 127.0.0.0/8 on the twin" in error_of(doc)


def test_unknown_model_and_bad_mac() -> None:
    doc = base()
    doc["racks"][0]["phones"][0]["model"] = "9999"
    doc["racks"][0]["phones"][1]["name"] = "SEPXYZ"
    message = error_of(doc)
    assert "racks[0].phones[0].model: unknown model" in message
    assert "racks[0].phones[1].name: must be SEP followed by 12 hex digits" in message


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read topology"):
        load_lab(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(UsageError, match=r"broken.yaml: line \d+: not valid YAML"):
        load_lab(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(UsageError, match="a topology is a mapping"):
        load_lab(scalar)


def test_twin_phone_addresses_are_distinct_per_rack() -> None:
    lab = load_lab(DEFAULT_LAB.parent / "twin-large.yaml")
    addresses = [phone_address(lab, r, p) for r in lab.racks for p in r.phones]
    assert len(set(addresses)) == len(addresses)
    assert all(a.is_loopback for a in addresses)


@pytest.mark.parametrize(("content", "says"), [
    (bytes(range(256)) * 4, "not a text file"),
    (b"name: lab\x00\n", "NUL byte"),
    (b"\xff\xfe" + "name: lab".encode("utf-16-le"), "not a text file"),
])
def test_binary_files_are_refused_by_name(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "rack.yaml"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=says) as caught:
        load_lab(path)
    assert str(path) in str(caught.value)


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * (5 * 1024 * 1024))
    with pytest.raises(UsageError, match="far too large"):
        load_lab(path)


def _with_firmware(tmp_path: Path, directory: str, load: str = "SIP42.9-4-2SR3-1S") -> Path:
    doc = base()
    doc["racks"][0]["firmware"] = [{"model": "CP-7962G", "load": load, "directory": directory}]
    path = tmp_path / "labs" / "lab.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def test_firmware_folder_is_relative_to_the_topology_file(tmp_path: Path) -> None:
    from harness.firmware.example import write_example

    write_example(tmp_path / "labs" / "fw", "7962", "SIP42.9-4-2SR3-1S")
    lab = load_lab(_with_firmware(tmp_path, "fw"))
    [load] = lab.racks[0].firmware
    assert (load.model, load.directory) == ("7962", str((tmp_path / "labs" / "fw").resolve()))
    absolute = load_lab(_with_firmware(tmp_path, str(tmp_path / "labs" / "fw")))
    assert absolute.racks[0].firmware[0].directory == load.directory


def test_default_lab_folder_resolves_wherever_the_run_starts(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    [load] = load_lab(DEFAULT_LAB).racks[0].firmware
    assert load.directory is not None
    assert (Path(load.directory) / f"{load.load}.loads").is_file()


def test_missing_firmware_folder_is_one_clear_message(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_lab(_with_firmware(tmp_path, "nowhere"))
    message = str(info.value)
    assert "racks[0].firmware[0].directory" in message and "does not exist" in message
    assert "make-example" in message


def test_firmware_folder_without_the_loads_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "labs" / "fw").mkdir(parents=True)
    (tmp_path / "labs" / "fw" / "SIP42.9-4-2SR3-1S.sbn").write_bytes(b"x")
    with pytest.raises(UsageError, match=r"has no SIP42\.9-4-2SR3-1S\.loads"):
        load_lab(_with_firmware(tmp_path, "fw"))


@pytest.mark.parametrize("load", ["../etc/passwd", "SIP 42", ""])
def test_firmware_load_id_must_be_a_plain_name(tmp_path: Path, load: str) -> None:
    with pytest.raises(UsageError, match=r"racks\[0\]\.firmware\[0\]\.load"):
        load_lab(_with_firmware(tmp_path, "fw", load))


def test_mic_cas_are_relative_to_the_topology_and_must_be_certificates(tmp_path: Path) -> None:
    from harness.cluster.from_spec import cluster_state
    from harness.pki import CertRole, LabPKI

    pki = LabPKI.init(tmp_path / "pki", ["cucm1"], key_size=1024)
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "cisco-mfg.pem").write_bytes(pki.identity(CertRole.mfg_ca).cert_pem)
    doc = base()
    doc["racks"][0]["firmware"] = []  # only the CA file is relative here
    doc["racks"][0]["cluster"]["mic_cas"] = ["cisco-mfg.pem"]
    path = tmp_path / "labs" / "lab.yaml"
    path.write_text(yaml.safe_dump(doc))
    rack = load_lab(path).racks[0]
    assert rack.cluster.mic_cas == [str((tmp_path / "labs" / "cisco-mfg.pem").resolve())]
    assert cluster_state(rack).mic_cas == [pki.identity(CertRole.mfg_ca).cert]
    (tmp_path / "labs" / "cisco-mfg.pem").write_text("not a certificate")
    with pytest.raises(UsageError, match=r"mic_cas\[0\]: .* holds no PEM certificate"):
        load_lab(path)
    doc["racks"][0]["cluster"]["mic_cas"] = ["missing.pem"]
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(UsageError, match=r"mic_cas\[0\]: cannot read"):
        load_lab(path)
