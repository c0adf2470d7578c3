"""Phone power through labgrid's power backends, confirmed after each change: a REST
relay on loopback driven by labgrid's `simplerest` backend, given directly or exported
as a `NetworkPowerPort` of the rack's place."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from harness.errors import LabError, RackBroken
from harness.leases.labgrid_lease import LabgridLease
from harness.leases.place_consoles import with_place_consoles
from lab_topology import parse_lab
from lab_topology.schema import RackSpec
from phone_drivers.power_labgrid import LabgridPowerPort
from phone_drivers.power_protocol import PowerControl
from phone_drivers.wiring import _power as wiring_power
from tests.shared_lab.labgrid_procs import (
    BIN,
    Coordinator,
    exporter,
    labgrid_ready,
    wait_resources,
)
from tests.shared_lab.relay import relay


@pytest.fixture(autouse=True)
def _labgrid() -> None:
    if reason := labgrid_ready():
        pytest.skip(reason)


def test_on_off_cycle_are_confirmed_by_reading_the_outlet_back() -> None:
    with relay() as r:
        port = LabgridPowerPort("simplerest", r.url, 2, settle_timeout=2, poll_interval=0.05)
        assert isinstance(port, PowerControl)
        assert not port.state().powered
        assert port.on().powered and r.outlets[2] is True
        off = port.off()
        assert not off.powered and not off.enabled and r.outlets[2] is False
        started = time.monotonic()
        assert port.cycle(off_seconds=0.3).powered
        assert time.monotonic() - started >= 0.3
        switches = [p for p in r.requests if p.count("/") == 3]
        assert switches[-2:] == ["/relay/2/0", "/relay/2/1"]
        assert r.requests[-1] == "/relay/2"  # the last word is a read-back, not the switch


def test_an_outlet_that_never_changes_is_a_broken_power_wire() -> None:
    with relay() as r:
        r.stuck.add(1)
        port = LabgridPowerPort("simplerest", r.url, 1, settle_timeout=0.5, poll_interval=0.05)
        with pytest.raises(RackBroken, match=r"switched on, but it still reads off after 0\.5 s"
                           ) as caught:
            port.on()
        assert caught.value.part == "power"


def test_a_dark_relay_or_an_unknown_model_are_lab_errors() -> None:
    with relay() as r:
        url = r.url
    port = LabgridPowerPort("simplerest", url, 0, settle_timeout=0.5)
    with pytest.raises(RackBroken, match="cannot switch the outlet on"):
        port.on()
    with pytest.raises(LabError, match="labgrid has no power backend 'nosuchpdu'"):
        LabgridPowerPort("nosuchpdu", url, 0)


def test_a_network_power_port_of_the_place_drives_the_phone(lg: Coordinator) -> None:
    with relay() as r:
        config = (f"rack1-power:\n  NetworkPowerPort:\n    model: simplerest\n"
                  f"    host: '{r.url}'\n    index: 3\n")
        with exporter(lg, "pdu1", config):
            wait_resources(lg, "pdu1", 1)
            lg.client("-p", "rack1", "create")
            lg.client("-p", "rack1", "add-match", "pdu1/rack1-power/*")
            lease = LabgridLease(lg.address, "rack1", "lab", "rack1", user="power-test")
            lease.acquire(timeout=20)
            try:
                ports = lease.resources("NetworkPowerPort")
                assert list(ports) == ["NetworkPowerPort"], ports
                params = ports["NetworkPowerPort"]
                port = LabgridPowerPort(str(params["model"]), str(params["host"]),
                                        str(params["index"]), settle_timeout=2)
                assert port.on().powered and r.outlets == {3: True}
                rack = with_place_consoles(_rack(lg, "NetworkPowerPort"), lease)
                spec = rack.phones[0]
                assert spec.power is not None and (spec.power.model, spec.power.index) == \
                    ("simplerest", "3")
                power = wiring_power(spec, {})  # what a run's phone gets
                assert isinstance(power, LabgridPowerPort) and not power.off().powered
                assert r.outlets == {3: False}
                with pytest.raises(LabError, match="power pdu9 is not a NetworkPowerPort"):
                    with_place_consoles(_rack(lg, "pdu9"), lease)
            finally:
                lease.release()


def _rack(lg: Coordinator, resource: str) -> RackSpec:
    return parse_lab({"name": "lab", "backend": "hardware", "racks": [{
        "name": "rack1", "reservation": {"coordinator": lg.address, "place": "rack1"},
        "cluster": {"nodes": [{"name": "cucm1", "address": "127.0.0.1"}]},
        "switches": [{"name": "sw1"}],
        "phones": [{"name": "SEP00000A000001", "model": "7962", "switch": "sw1",
                    "port": "Gi1/0/1", "power": {"resource": resource}}]}]}).racks[0]


def _hardware(tmp_path: Path, power: dict[str, str], reservation: dict[str, str] | None = None
              ) -> Path:
    rack: dict[str, object] = {
        "name": "rack1", "cluster": {"nodes": [{"name": "cucm1", "address": "127.0.0.1"}]},
        "switches": [{"name": "sw1"}],
        "phones": [{"name": "SEP00000A000001", "model": "7962", "switch": "sw1",
                    "port": "Gi1/0/1", "power": power}]}
    if reservation:
        rack["reservation"] = reservation
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump({"name": "lab", "backend": "hardware", "racks": [rack]}))
    return path


def _power_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHONELAB_LEASES": str(tmp_path / "leases")}
    return subprocess.run([str(BIN / "phonelab"), "power", *args, "SEP00000A000001", "--lab",
                           str(tmp_path / "hw.yaml")], capture_output=True, text=True, env=env,
                          timeout=60)


def test_phonelab_power_drives_a_labgrid_outlet_the_topology_names(tmp_path: Path) -> None:
    with relay() as r:
        _hardware(tmp_path, {"model": "simplerest", "host": r.url, "index": "4"})
        on = _power_cli(tmp_path, "on", "--settle", "2")
        assert on.returncode == 0, on.stderr
        assert on.stdout.strip() == \
            "SEP00000A000001: SEP00000A000001 power admin=auto oper=on 0.0 W"
        assert r.outlets == {4: True}
        off = _power_cli(tmp_path, "off")
        assert off.returncode == 0 and "oper=off" in off.stdout and r.outlets == {4: False}
        r.stuck.add(4)
        stuck = _power_cli(tmp_path, "on", "--settle", "0.5")
        assert stuck.returncode == 3, stuck.stderr  # a broken power wire: lab error, one line
        assert "still reads off after 0.5 s" in stuck.stderr
        assert len(stuck.stderr.strip().splitlines()) == 1


def test_phonelab_power_finds_the_outlet_among_the_place_s_resources(
        tmp_path: Path, lg: Coordinator) -> None:
    with relay() as r:
        config = (f"rack1-power:\n  outlet-a:\n    cls: NetworkPowerPort\n"
                  f"    model: simplerest\n    host: '{r.url}'\n    index: 7\n")
        with exporter(lg, "pdu2", config):
            wait_resources(lg, "pdu2", 1)
            lg.client("-p", "rack1", "create")
            lg.client("-p", "rack1", "add-match", "pdu2/rack1-power/*")
            _hardware(tmp_path, {"resource": "outlet-a"},
                      {"coordinator": lg.address, "place": "rack1"})
            state = _power_cli(tmp_path, "cycle", "--off-seconds", "0", "--settle", "2")
            assert state.returncode == 0, state.stderr
            assert "oper=on" in state.stdout and r.outlets == {7: True}
            assert [p for p in r.requests if p.count("/") == 3] == ["/relay/7/0", "/relay/7/1"]
