"""Unmodified netmiko power-cycles a twin phone through the fake switch; pyserial sees it."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from harness.phone_models import Family
from phone_drivers.console import SerialConsole
from phone_drivers.console_patterns import ConsoleEvent, pattern
from phone_drivers.emulator.twin import TwinRack
from phone_drivers.poe import IosPoePort, SwitchConnection
from tests.twin.test_twin_boot import P7962, ready


def test_netmiko_power_cycle_reboots_the_phone(rack: TwinRack, tmp_path: Path) -> None:
    ready(rack, P7962)
    info = rack.describe()["switch"]
    connection = SwitchConnection(host=info["host"], port=info["port"],
                                  username=info["username"], password=SecretStr(info["password"]),
                                  timeout=10)
    port = IosPoePort(connection, "Gi1/0/1", settle_timeout=10, poll_interval=0.1)
    phone = rack.phones[P7962]
    assert phone.console_path is not None
    with SerialConsole(phone.console_path, name=P7962, log_path=tmp_path / "console.log") as con:
        mark = rack.events.mark()
        assert port.off().oper == "off"
        rack.events.wait_for(lambda e: e.kind == "phone.power" and e.phone == P7962
                             and e.data["state"] == "off", 10, after=mark)
        assert not phone.powered
        on = port.on()
        assert on.oper == "on" and on.device and "7962" in on.device
        con.expect(pattern(ConsoleEvent.POWER_UP, Family.C79X1), timeout=10)
        con.expect(pattern(ConsoleEvent.REGISTERED, Family.C79X1), timeout=15)
    ready(rack, P7962, after=mark)
    boots = [e.data["kind"] for e in rack.events.since(mark)
             if e.kind == "phone.boot" and e.phone == P7962]
    assert boots == ["power"]
    log = (tmp_path / "console.log").read_text()
    assert "Sending Discover" in log and "Registered to" in log
