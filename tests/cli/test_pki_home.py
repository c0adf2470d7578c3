"""One PKI per lab and rack: `phonelab serve` and the pytest plugin, both left to their
defaults, use the same folder (the phones of a rack trust one ITL signer)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from fixtures.backend import BackendOptions, HardwareBackend
from lab_topology import load_lab

PHONELAB = Path(sys.executable).with_name("phonelab")
TOPOLOGY = {"name": "pkihome", "backend": "hardware", "racks": [{
    "name": "bench",
    "cluster": {"nodes": [{"name": "cucm1", "address": "127.213.0.9"}]},
    "switches": [{"name": "sw1", "host": "127.0.0.1"}],
    "phones": [{"name": "SEP00000AD50009", "model": "7962", "switch": "sw1",
                "port": "Gi1/0/1"}]}]}


def serve_until_ready(lab: Path, env: dict[str, str], cwd: Path) -> list[str]:
    """Start `phonelab serve`, read its first lines (where the PKI is), then stop it."""
    proc = subprocess.Popen([str(PHONELAB), "serve", "--lab", str(lab), "--ephemeral-ports",
                             "--no-dhcp"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env, cwd=cwd)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("tftp@"):
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(60), "serve did not start"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()
            reader.join(10)  # stdout is the reader's until its end (no communicate())
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    return lines


def test_serve_and_pytest_default_to_the_same_pki(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lab = tmp_path / "pkihome.yaml"
    lab.write_text(yaml.safe_dump(TOPOLOGY))
    data = tmp_path / "data"
    env = {**os.environ, "PHONELAB_DATA": str(data), "PHONELAB_LEASES": str(tmp_path / "l")}
    lines = serve_until_ready(lab, env, tmp_path)
    expected = data / "pkihome" / "bench" / "pki"
    assert lines[0].strip() == f"initialised a lab PKI for cucm1 in {expected}"
    monkeypatch.setenv("PHONELAB_DATA", str(data))
    spec = load_lab(lab)
    backend = HardwareBackend(spec, BackendOptions())  # no --phonelab-pki-dir: the default
    assert backend.pki_home(spec.racks[0]) / "pki" == expected
    again = serve_until_ready(lab, env, tmp_path)  # the second serve reuses it
    assert not any("initialised" in line for line in again)


def test_pki_dir_option_moves_the_base_for_pytest(tmp_path: Path) -> None:
    lab = tmp_path / "pkihome.yaml"
    lab.write_text(yaml.safe_dump(TOPOLOGY))
    spec = load_lab(lab)
    backend = HardwareBackend(spec, BackendOptions(pki_dir=tmp_path / "srv"))
    assert backend.pki_home(spec.racks[0]) == tmp_path / "srv" / "pkihome" / "bench"
