"""The PoE driver against the twin's fake switch over real SSH, including failure modes.

The healthy switch and its driver session are shared by the module (logins cost time);
tests that break a switch (freeze, stop, wrong credentials) get their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from harness.errors import LabError, RackBroken, UsageError
from harness.events import EventLog
from phone_drivers.emulator.switch import FakeSwitch
from phone_drivers.poe import IosPoePort, PowerControl, SwitchConnection, SwitchSession
from tests.recording_device import RecordingPhone as Phone

pytestmark = pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning")
TIMEOUT = 2.0


def connection(sw: FakeSwitch, **changes: object) -> SwitchConnection:
    fields = {"host": sw.host, "port": sw.port, "username": sw.username,
              "password": sw.password, "secret": sw.secret, "timeout": TIMEOUT} | changes
    return SwitchConnection.model_validate(fields)


@pytest.fixture(scope="module")
def events() -> EventLog:
    return EventLog()


@pytest.fixture(scope="module")
def phones() -> dict[int, Phone]:
    return {n: Phone(name=f"SEP00215555420{n}", mac=f"00215555420{n}") for n in (2, 3, 4)}


@pytest.fixture(scope="module")
def switch(events: EventLog, phones: dict[int, Phone]) -> Iterator[FakeSwitch]:
    with FakeSwitch(6, enable_secret="s3cret", events=events) as sw:
        for n, phone in phones.items():
            sw.attach(f"Gi1/0/{n}", phone)
        yield sw


@pytest.fixture(scope="module")
def session(switch: FakeSwitch) -> Iterator[SwitchSession]:
    shared = SwitchSession(connection(switch))
    yield shared
    shared.close()


@pytest.fixture
def spare() -> Iterator[FakeSwitch]:
    """A switch of the test's own, to break."""
    with FakeSwitch(2) as sw:
        sw.attach("Gi1/0/1", Phone())
        yield sw


def test_off_and_on_are_confirmed_by_the_switch(
    session: SwitchSession, phones: dict[int, Phone], events: EventLog
) -> None:
    port = IosPoePort(session, "GigabitEthernet1/0/2")
    assert isinstance(port, PowerControl)
    assert port.state().powered
    mark = events.mark()
    off = port.off()
    assert (off.admin, off.oper, off.watts, off.device) == ("off", "off", 0.0, None)
    on = port.on()
    assert (on.admin, on.oper, on.watts, on.device) == ("auto", "on", 6.3, "IP Phone 7962")
    assert [e.data["state"] for e in events.since(mark)] == ["off", "on"]
    deadline = time.monotonic() + 2
    while len(phones[2].calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert phones[2].calls == ["on", "off", "on"]


def test_cycle_and_short_names_share_one_session(
    session: SwitchSession, phones: dict[int, Phone]
) -> None:
    first = session._connected()
    state = IosPoePort(session, "Gi1/0/3").cycle(off_seconds=0.1)
    assert state.powered and state.interface == "Gi1/0/3"
    assert session._connected() is first
    assert phones[3].calls[-2:] == ["off", "on"]


def test_ports_are_safe_to_drive_from_several_threads(session: SwitchSession) -> None:
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            IosPoePort(session, name).cycle(off_seconds=0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"Gi1/0/{n}",)) for n in (2, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []


def test_nonexistent_port_is_a_lab_error(session: SwitchSession) -> None:
    with pytest.raises(LabError, match=r"rejected `interface Gi1/0/99`.*no such interface"):
        IosPoePort(session, "Gi1/0/99").off()
    with pytest.raises(LabError, match=r"rejected `show power inline Gi1/0/99`: % Invalid"):
        IosPoePort(session, "Gi1/0/99").state()


def test_on_without_a_powered_device_times_out_as_lab_error(session: SwitchSession) -> None:
    port = IosPoePort(session, "Gi1/0/6", settle_timeout=0.5, poll_interval=0.1)
    with pytest.raises(LabError, match=r"Gi1/0/6 still oper off .* powered device plugged in"):
        port.on()


def test_faulty_port_is_reported(session: SwitchSession, switch: FakeSwitch) -> None:
    switch.attach("Gi1/0/5", Phone(name="SEP0021555542FF"))
    port = switch.ports[4]
    port.fault = "faulty"
    switch.configure(port)
    driver = IosPoePort(session, "Gi1/0/5", settle_timeout=0.3, poll_interval=0.1)
    assert driver.state().oper == "faulty"
    with pytest.raises(RackBroken, match="still oper faulty") as caught:
        driver.on()
    assert caught.value.part == "power"


def test_a_port_can_own_its_session(spare: FakeSwitch) -> None:
    port = IosPoePort(connection(spare), "GigabitEthernet1/0/1")
    assert port.off().oper == "off" and port.on().oper == "on"
    port.session.close()


def test_wrong_password_is_an_authentication_lab_error(spare: FakeSwitch) -> None:
    with pytest.raises(LabError, match=r"authentication failed for user 'admin'"):
        SwitchSession(connection(spare, password="wrong")).send_command("show version")


def test_wrong_enable_secret_is_a_lab_error() -> None:
    with FakeSwitch(1, enable_secret="right") as sw:
        bad = SwitchSession(connection(sw, secret="wrong", timeout=1.0))
        with pytest.raises(LabError, match="enable secret"):
            bad.send_command("show version")


def test_stopped_switch_is_unreachable_quickly(spare: FakeSwitch) -> None:
    conn = connection(spare)
    spare.stop()
    started = time.monotonic()
    with pytest.raises(RackBroken, match=r"unreachable after 3 attempt\(s\)") as caught:
        IosPoePort(SwitchSession(conn, backoff=0.1), "Gi1/0/1").state()
    assert caught.value.part == "switch"
    assert time.monotonic() - started < TIMEOUT


def test_switch_frozen_mid_session_is_a_bounded_lab_error(spare: FakeSwitch) -> None:
    port = IosPoePort(SwitchSession(connection(spare)), "Gi1/0/1")
    assert port.state().powered
    spare.freeze()
    started = time.monotonic()
    with pytest.raises(RackBroken, match="stopped answering") as caught:
        port.off()
    assert caught.value.part == "switch"
    assert time.monotonic() - started < TIMEOUT + 1.5
    spare.unfreeze()


def test_switch_frozen_at_login_is_a_bounded_lab_error(spare: FakeSwitch) -> None:
    spare.freeze()
    started = time.monotonic()
    with pytest.raises(LabError, match="no answer to login"):
        IosPoePort(SwitchSession(connection(spare)), "Gi1/0/1").state()
    assert time.monotonic() - started < TIMEOUT + 1.5
    spare.unfreeze()


def test_session_reconnects_after_the_switch_reloads(spare: FakeSwitch) -> None:
    session = SwitchSession(connection(spare))
    port = IosPoePort(session, "Gi1/0/1")
    before = session._connected()
    spare.stop()
    spare.start()
    assert port.state().powered
    assert session._connected() is not before
    session.close()


def test_credentials_come_from_the_environment() -> None:
    env = {"PHONELAB_SWITCH_USER": "ops", "PHONELAB_SWITCH_PASSWORD": "pw"}
    conn = SwitchConnection.from_env("10.0.0.2", 2222, environ=env, timeout=3)
    assert (conn.username, conn.password.get_secret_value(), conn.port, conn.timeout) == (
        "ops", "pw", 2222, 3.0)
    assert "pw" not in repr(conn) and conn.secret.get_secret_value() == ""
    with pytest.raises(UsageError, match="set PHONELAB_SWITCH_PASSWORD in the environment"):
        SwitchConnection.from_env("10.0.0.2", environ={"PHONELAB_SWITCH_USER": "ops"})
    with pytest.raises(UsageError, match="LAB_U and LAB_P"):
        SwitchConnection.from_env("h", username_env="LAB_U", password_env="LAB_P", environ={})
