"""The fake switch's IOS CLI and PoE state, driven directly (no SSH): fast, exhaustive."""

from __future__ import annotations

import time

import pytest

from harness.events import EventLog
from phone_drivers.emulator.ios_cli import IosSession
from phone_drivers.emulator.switch import FakeSwitch, SwitchPort, make_ports
from tests.recording_device import RecordingPhone as Phone

INVALID = "% Invalid input detected at '^' marker."


def cli(switch: FakeSwitch, *lines: str) -> tuple[IosSession, list[str]]:
    session = IosSession(switch)
    return session, [session.handle(line) for line in lines]


def test_starts_privileged_without_secret_and_walks_the_modes() -> None:
    sw = FakeSwitch(4, hostname="sw9")
    s = IosSession(sw)
    assert s.prompt == "sw9#"
    s.handle("conf t")
    assert s.prompt == "sw9(config)#"
    s.handle("int gi1/0/2")
    assert s.prompt == "sw9(config-if)#" and s.port is sw.ports[1]
    s.handle("exit")
    assert s.prompt == "sw9(config)#"
    s.handle("interface GigabitEthernet 1/0/3")
    s.handle("end")
    assert s.prompt == "sw9#" and s.port is None
    s.handle("disable")
    assert s.prompt == "sw9>"
    s.handle("logout")
    assert s.closed


def test_enable_secret_three_tries_then_bad_secrets() -> None:
    sw = FakeSwitch(2, enable_secret="s3cret")
    s, _ = cli(sw, "en")
    assert s.prompt == "Password: " and not s.echo
    assert s.handle("wrong") == "" and s.handle("wrong") == ""
    assert "% Bad secrets" in s.handle("wrong")
    assert s.prompt == "lab-sw1>" and s.echo
    s.handle("enable")
    s.handle("s3cret")
    assert s.prompt == "lab-sw1#"


def test_user_exec_cannot_configure() -> None:
    sw = FakeSwitch(2, enable_secret="x")
    _, (out,) = cli(sw, "configure terminal")
    assert out == " " * len("lab-sw1>") + "^\n" + INVALID + "\n\n"


def test_caret_points_at_the_bad_word_and_interface_number() -> None:
    sw = FakeSwitch(4)
    _, (bad_word, bad_port, bad_kind) = cli(
        sw, "show powr inline", "show power inline Gi1/0/9", "show power inline Foo1/0/1"
    )
    assert bad_word.splitlines()[0] == " " * len("lab-sw1#show ") + "^"
    assert bad_word.splitlines()[1] == INVALID
    assert bad_port.splitlines()[0] == " " * len("lab-sw1#show power inline Gi1/0/") + "^"
    assert bad_kind.splitlines()[0] == " " * len("lab-sw1#show power inline ") + "^"


def test_ambiguous_and_incomplete() -> None:
    sw = FakeSwitch(2, enable_secret="x")
    session, (ambiguous, incomplete, _) = cli(sw, "e", "show power", "ex")
    assert ambiguous.startswith('% Ambiguous command:  "e"')
    assert incomplete.startswith("% Incomplete command.")
    assert session.closed  # "ex" is a unique prefix of exit


def test_power_never_and_auto_call_the_device_only_on_transitions() -> None:
    events = EventLog()
    phone = Phone()
    sw = FakeSwitch(4, events=events)
    sw.attach("Gi1/0/3", phone)
    assert phone.wait_calls(1) == ["on"]
    _, outs = cli(sw, "conf t", "int gi1/0/3", "power inline never", "power inline never",
                  "no power inline", "power inline auto", "end")
    assert all(out == "" for out in outs[1:])
    assert phone.wait_calls(3) == ["on", "off", "on"]
    time.sleep(0.1)
    assert phone.calls == ["on", "off", "on"]
    states = [(e.phone, e.data["port"], e.data["state"]) for e in events.of_kind("switch.power")]
    assert states == [("SEP0021555542E6", "Gi1/0/3", s) for s in ("on", "off", "on")]


def test_show_power_inline_reflects_admin_and_oper() -> None:
    sw = FakeSwitch(4)
    sw.attach("Gi1/0/1", Phone())
    _, (out,) = cli(sw, "show power inline")
    assert "Gi1/0/1   auto   on         6.3     IP Phone 7962       n/a   15.4" in out
    assert out.startswith("Module   Available")
    _, (_, _, _, _, single) = cli(sw, "conf t", "int gi1/0/1", "power inline never", "end",
                                  "sh pow inl gi1/0/1")
    assert single.splitlines()[0].startswith("Interface Admin")
    assert single.splitlines()[-1].split() == ["Gi1/0/1", "off", "off", "0.0", "n/a", "n/a", "15.4"]


def test_static_max_and_range_check() -> None:
    sw = FakeSwitch(2)
    sw.attach("Gi1/0/2", Phone())
    _, outs = cli(sw, "conf t", "int gi1/0/2", "power inline static max 30001",
                  "power inline static max 7000", "do show running-config interface gi1/0/2",
                  "do sh power inline gi1/0/2 detail")
    assert outs[2].splitlines()[1] == INVALID
    assert " power inline static max 7000" in outs[4]
    assert sw.ports[1].admin_poe == "static" and sw.ports[1].max_watts == 7.0
    assert " Inline Power Mode: static" in outs[5] and "drawn from the source: 7.0" in outs[5]


def test_shutdown_keeps_poe_unless_configured_to_cut_it() -> None:
    phone, other = Phone(), Phone(name="SEP00AABBCCDDEE", mac="00AABBCCDDEE")
    keeps = FakeSwitch([SwitchPort("GigabitEthernet1/0/1", device=phone)])
    cuts = FakeSwitch([SwitchPort("GigabitEthernet1/0/1", device=other)], shutdown_cuts_poe=True)
    for sw in (keeps, cuts):
        cli(sw, "conf t", "int gi1/0/1", "shutdown", "end")
    assert phone.wait_calls(1) == ["on"] and other.wait_calls(2) == ["on", "off"]
    _, (status,) = cli(keeps, "show interfaces status")
    assert "disabled" in status and keeps.ports[0].oper == "on"


def test_fastethernet_model_and_fault_states() -> None:
    sw = FakeSwitch(make_ports(3, "FastEthernet1/0/"))
    port = sw.attach("fa1/0/2", Phone())
    port.fault = "power-deny"
    sw.configure(port)
    _, (out, wrong) = cli(sw, "show power inline Fa1/0/2", "show power inline gi1/0/2")
    assert out.splitlines()[-1].split()[:3] == ["Fa1/0/2", "auto", "power-deny"]
    assert INVALID in wrong


def test_slow_or_broken_device_never_blocks_the_cli() -> None:
    events = EventLog()
    slow, broken = Phone(delay=0.4), Phone(name="SEP00AABBCCDDEE", broken=True)
    sw = FakeSwitch(2, events=events)
    started = time.monotonic()
    sw.attach("Gi1/0/1", slow)
    sw.attach("Gi1/0/2", broken)
    cli(sw, "conf t", "int gi1/0/1", "power inline never", "int gi1/0/2", "power inline never")
    assert time.monotonic() - started < 0.5
    events.wait_for(lambda e: e.kind == "switch.error", 5.0)
    assert slow.wait_calls(2, timeout=5) == ["on", "off"]
    sw.close()


def test_unplugging_powers_the_device_off() -> None:
    phone = Phone()
    sw = FakeSwitch(2)
    sw.attach("Gi1/0/1", phone)
    sw.attach("Gi1/0/1", None)
    assert phone.wait_calls(2) == ["on", "off"]
    with pytest.raises(KeyError):
        sw.attach("Gi1/0/7", phone)
