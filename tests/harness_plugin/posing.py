"""Twin phones posing as a hardware rack, for pytester runs of the plugin's hardware path.

A `TwinRack` is started with its ports dark and its phones told (by "DHCP option
150") to find TFTP at `node`; the topology handed to the plugin says `backend:
hardware` and names that switch and those consoles. So the plugin's hardware path
runs for real: its own cluster on fixed ports, credentials from the environment,
consoles opened by URL, PoE over netmiko, phones that outlive each test.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.pki import CertRole
from lab_topology import load_lab
from phone_drivers.emulator.twin import TwinRack
from tests.isolated_lab import isolated_twin_lab

MODELS = ("7962", "8845")  # two Security-by-Default phones, one of each family


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class PosingRack:
    twin: TwinRack
    node: str  # the harness cluster's node address the phones were pointed at
    tftp_port: int

    def topology(self, keypad: str = "console", no_console: tuple[str, ...] = (),
                 addresses: bool = False) -> dict[str, Any]:
        where = self.twin.describe()
        switch = where["switch"]
        # the rack's phones carry MICs from the twin's manufacturing CA, as real phones
        # carry Cisco's: the harness cluster is told to trust it (cluster.mic_cas)
        mic_ca = self.twin.workdir / "mic-ca.pem"
        mic_ca.write_bytes(self.twin.pki.identity(CertRole.mfg_ca).cert_pem)
        return {
            "name": "lab-under-test", "backend": "hardware",
            "racks": [{
                "name": "rack-a",
                "cluster": {"nodes": [{"name": "cucm1", "address": self.node}],
                            "ports": {"tftp": self.tftp_port}, "mic_cas": [str(mic_ca)]},
                "switches": [{"name": "sw1", "host": switch["host"], "port": switch["port"],
                              "credentials": {"username_env": "RACK_A_USER",
                                              "password_env": "RACK_A_PASSWORD"}}],
                "phones": [{"name": p["name"], "model": p["model"], "switch": "sw1",
                            "port": p["switch_port"], "keypad": keypad,
                            **({} if p["name"] in no_console
                               else {"console": {"url": p["console"]}}),
                            **({"address": p["address"]} if addresses else {})}
                           for p in where["phones"] if p["model"] in MODELS],
            }],
        }

    def run(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, scenario: str,
            *args: str, keypad: str = "console", no_console: tuple[str, ...] = (),
            stdin: bytes | None = None) -> pytest.RunResult:
        """Run `scenario` (a test module) with the plugin on this rack; -rsw shows skips
        and warnings; `stdin` is what the operator types (ManualKeypad prompts)."""
        switch = self.twin.describe()["switch"]
        topology = self.topology(keypad, no_console)
        (pytester.path / "rack.yaml").write_text(yaml.safe_dump(topology))
        pytester.makepyfile(test_scenario=scenario)
        monkeypatch.setenv("RACK_A_USER", switch["username"])
        monkeypatch.setenv("RACK_A_PASSWORD", switch["password"])
        options = ("-p", "no:randomly", f"--rootdir={pytester.path}", "-rsw",
                   "--lab", str(pytester.path / "rack.yaml"),
                   "--phonelab-pki-dir", str(pytester.path / "pki"),
                   "--phonelab-lease-dir", str(pytester.path / "leases"),
                   "--phonelab-log-dir", str(pytester.path / "logs"), *args)
        if stdin is None:
            return pytester.runpytest_subprocess(*options, timeout=180)
        return pytester.run(sys.executable, "-mpytest", f"--basetemp={pytester.path / 'tmp'}",
                            *options, timeout=180, stdin=stdin)


@contextmanager
def posing_rack(directory: Path, octet: int) -> Iterator[PosingRack]:
    """A dark twin rack on 127.<octet>.x.x whose phones look for TFTP at 127.<octet>.9.1."""
    node = f"127.{octet}.9.1"
    port = free_udp_port(node)
    lab = load_lab(isolated_twin_lab(directory, octet))
    twin = TwinRack(lab, lab.racks[0], directory / "twin", powered=False,
                    tftp_servers=[(node, port)])
    twin.start()
    try:
        yield PosingRack(twin, node, port)
    finally:
        twin.stop()
