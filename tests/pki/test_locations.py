"""`phonelab serve` and pytest default to the same PKI for a hardware rack."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.backend import BackendOptions, HardwareBackend
from harness.pki.locations import rack_pki
from lab_topology import load_lab

ROOT = Path(__file__).resolve().parents[2]


def test_serve_and_the_plugin_share_one_pki_per_lab_and_rack(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PHONELAB_DATA", str(tmp_path))
    lab = load_lab(ROOT / "lab_topology" / "rack-example.yaml")
    rack = lab.racks[0]
    backend = HardwareBackend(lab, BackendOptions())
    assert backend.pki_home(rack) / "pki" == rack_pki(lab.name, rack.name)
    assert rack_pki(lab.name, rack.name) == tmp_path / "lab3" / "rack-a" / "pki"
