"""The firmware under test served over TFTP beside the generated set (docs/REAL_WIRE.md §5),
fetched with tftpy's client; the serving policy still refuses traversal and keys."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import tftpy

from harness.cluster.cluster import Cluster
from harness.cluster.state import FirmwareLoad
from harness.firmware.example import example_files, write_example
from harness.firmware.names import image_names
from harness.services.tftp_files import NameDenied
from tests.cluster.conftest import PHONE, download

LOAD = "SIP42.9-4-2SR3-1S"


@pytest.fixture
def folder(cluster: Cluster, tmp_path: Path) -> Path:
    directory = tmp_path / "fw"
    write_example(directory, "7962", LOAD)
    cluster.state.firmware["7962"] = FirmwareLoad("7962", LOAD, str(directory))
    cluster.restart_service("tftp")
    return directory


def test_load_files_are_served_next_to_the_configs(cluster: Cluster, folder: Path,
                                                   tmp_path: Path) -> None:
    expected = example_files("7962", LOAD)
    for name in [f"{LOAD}.loads", *image_names(LOAD), "term62.default.loads"]:
        assert download(cluster, name, tmp_path) == expected[name], name
    config = download(cluster, f"{PHONE}.cnf.xml", tmp_path)
    assert config is not None
    assert ET.fromstring(config).findtext("loadInformation") == LOAD


def test_generated_files_win_over_the_folder(cluster: Cluster, folder: Path,
                                             tmp_path: Path) -> None:
    (folder / "ITLFile.tlv").write_bytes(b"planted")
    served = download(cluster, "ITLFile.tlv", tmp_path)
    assert served is not None and served != b"planted"


def test_folder_serving_refuses_keys_and_traversal(cluster: Cluster, folder: Path,
                                                   tmp_path: Path) -> None:
    (folder / "signer.key").write_bytes(b"not really a key")
    (folder / "notes.txt").write_bytes(b"-----BEGIN PRIVATE KEY-----\nMII...\n")
    (tmp_path / "outside.txt").write_bytes(b"outside the folder")
    (folder / "link.txt").symlink_to(tmp_path / "outside.txt")
    for name in ("signer.key", "notes.txt", "link.txt"):
        with pytest.raises(tftpy.TftpException, match="Access violation"):
            download(cluster, name, tmp_path)
    with pytest.raises(NameDenied):
        cluster.served("../outside.txt")
    assert download(cluster, "absent.sbn", tmp_path) is None


def test_folder_is_read_at_each_request(cluster: Cluster, folder: Path, tmp_path: Path) -> None:
    (folder / image_names(LOAD)[0]).unlink()
    assert download(cluster, image_names(LOAD)[0], tmp_path) is None
    del cluster.state.firmware["7962"]
    assert download(cluster, f"{LOAD}.loads", tmp_path) is None
