"""`SshConsole`: the 88xx log over real SSH, against the twin phone's SSH access.

The server side is `PhoneSsh` (asyncssh on loopback) fed by a real `PhoneTty`, so the
lines are the twin's 88xx dialect; the last test runs a whole twin rack and checks
that the 8845 of the default topology is observed over SSH and not over its pty.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from harness.aio import BackgroundLoop
from harness.errors import LabError
from harness.events import EventLog
from harness.phone_models import Family
from lab_topology import load_lab
from lab_topology.schema import SshShell
from phone_drivers.console import Console, ConsoleTimeout
from phone_drivers.console_patterns import ConsoleEvent, pattern
from phone_drivers.console_ssh import SshConsole, SshTarget, learned_address
from phone_drivers.emulator import console_lines as lines
from phone_drivers.emulator.phone_ssh import PhoneSsh
from phone_drivers.emulator.tty import PhoneTty
from phone_drivers.emulator.twin import TwinRack
from phone_drivers.wiring import build_phones, close_phones
from tests.isolated_lab import isolated_twin_lab

PHONE = "SEP00000A000002"
LOGIN = ("lab", "s3cret-pw")


@dataclass
class Phone:
    """A twin phone's log source and SSH access, without the rest of the twin."""

    loop: BackgroundLoop
    tty: PhoneTty
    ssh: PhoneSsh
    login: tuple[str, str] | None = LOGIN
    typed: list[str] = field(default_factory=list)

    def say(self, text: str) -> str:
        return self.tty.write_line("NOT", "SECUREAPP", text)

    def target(self, ssh_password: str = LOGIN[1], **shell: str | None) -> SshTarget:
        return SshTarget("127.0.0.1", self.ssh.port, LOGIN[0], SecretStr(ssh_password),
                         SshShell.model_validate(shell))


@pytest.fixture
def phone() -> Iterator[Phone]:
    loop, tty = BackgroundLoop("phone-ssh-test"), PhoneTty(Family.C88XX)
    box: list[Phone] = []
    ssh = PhoneSsh(PHONE, "127.0.0.1", loop.loop, login=lambda: box[0].login,
                   typed=lambda text: box[0].typed.append(text))
    box.append(Phone(loop, tty, ssh))
    tty.on_line = ssh.publish
    loop.run(ssh.start())
    yield box[0]
    loop.run(ssh.close())
    loop.close()
    tty.close()


def console(phone: Phone, tmp_path: Path, events: EventLog | None = None,
            target: SshTarget | None = None, **settings: float) -> SshConsole:
    options: dict[str, float] = {"reconnect_attempts": 50, "reconnect_interval": 0.05,
                                 "replay_quiet": 0.2, **settings}
    return SshConsole(target or phone.target(), name=PHONE, log_path=tmp_path / "c.log",
                      events=events, **options)  # type: ignore[arg-type]


def lines_of(events: EventLog) -> list[str]:
    return [str(e.data["line"]) for e in events.of_kind("console.line") if e.phone == PHONE]


def test_log_lines_become_console_line_events_and_match_the_88xx_patterns(
        phone: Phone, tmp_path: Path) -> None:
    events = EventLog()
    before = phone.tty.emit(lines.trust_list_accepted(Family.C88XX))  # in the phone's log only
    with console(phone, tmp_path, events) as c:
        assert c.wait_connected(5)
        after = phone.say("after the login")
        c.expect("after the login", 2)
        seen = lines_of(events)
        assert before in seen and after in seen  # the buffer first, then live lines
        verified = pattern(ConsoleEvent.TL_VERIFIED, Family.C88XX)
        assert any(verified.search(line + "\n") for line in seen)  # `^` anchored: own lines
        assert all(e.source == "console" for e in events.of_kind("console.line"))
        with pytest.raises(ConsoleTimeout, match="never printed"):
            c.expect("never printed", 0.2)
    log = (tmp_path / "c.log").read_text()
    assert after in log and "streaming 'show strace'" in log and LOGIN[1] not in log


def test_wrong_password_is_one_clear_lab_error_without_retries(phone: Phone,
                                                                tmp_path: Path) -> None:
    started = time.monotonic()
    with console(phone, tmp_path, target=phone.target("wrong")) as c:
        with pytest.raises(LabError, match=r"refused the SSH login of user 'lab'.*sshUserId"):
            c.wait_connected(5)
        with pytest.raises(LabError, match="refused the SSH login"):
            c.expect("anything", 1)
        with pytest.raises(LabError, match="refused the SSH login"):
            c.send("erase itl\r")
    assert time.monotonic() - started < 3  # not 50 attempts


def test_wrong_shell_login_is_a_lab_error(phone: Phone, tmp_path: Path) -> None:
    with (console(phone, tmp_path, target=phone.target(login="debug", password="nope")) as c,
          pytest.raises(LabError, match="refused the shell login 'debug'")):
        c.wait_connected(5)


def test_missing_prompt_is_a_lab_error_naming_the_setting(phone: Phone, tmp_path: Path) -> None:
    with (console(phone, tmp_path, target=phone.target(login=None), login_timeout=0.5) as c,
          pytest.raises(LabError, match=r"no shell prompt.*'login: '.*console\.shell")):
        c.wait_connected(5)


def test_dropped_stream_reconnects_and_each_line_arrives_once(phone: Phone,
                                                              tmp_path: Path) -> None:
    events = EventLog()
    with console(phone, tmp_path, events) as c:
        assert c.wait_connected(5)
        first = phone.say("before the drop")
        c.expect("before the drop", 2)
        phone.ssh.drop()  # the phone reboots: its network goes away mid-stream
        during = phone.say("while nobody was connected")
        c.expect("while nobody was connected", 5)
        later = phone.say("after the reconnect")
        c.expect("after the reconnect", 2)
        assert c.sessions == 2
    seen = lines_of(events)
    for line in (first, during, later):
        assert seen.count(line) == 1, seen


def test_replay_without_the_last_seen_line_is_kept_whole(tmp_path: Path) -> None:
    loop, tty = BackgroundLoop("phone-ssh-small"), PhoneTty(Family.C88XX)
    ssh = PhoneSsh(PHONE, "127.0.0.1", loop.loop, login=lambda: LOGIN, typed=print, backlog=2)
    tty.on_line = ssh.publish
    loop.run(ssh.start())
    phone = Phone(loop, tty, ssh)
    events = EventLog()
    try:
        with console(phone, tmp_path, events) as c:
            assert c.wait_connected(5)
            phone.say("one")
            c.expect("-one", 2)
            ssh.drop()
            said = [phone.say(word) for word in ("two", "three", "four")]  # buffer keeps 2
            c.expect("-four", 5)
        assert said[0] not in lines_of(events) and all(s in lines_of(events) for s in said[1:])
        assert "whole replay follows" in (tmp_path / "c.log").read_text()
    finally:
        loop.run(ssh.close())
        loop.close()
        tty.close()


def test_phone_without_ssh_access_is_retried_until_its_config_enables_it(
        phone: Phone, tmp_path: Path) -> None:
    phone.login = None  # no config with an SSH user yet
    with console(phone, tmp_path) as c:
        assert not c.wait_connected(0.4)
        with pytest.raises(LabError, match=r"no log stream .* still retrying"):
            c.expect("anything", 0.2)
        phone.login = LOGIN
        assert c.wait_connected(5)


def test_unreachable_phone_gives_up_after_the_bounded_attempts(tmp_path: Path) -> None:
    target = SshTarget("127.0.0.1", 9, "lab", SecretStr("x"))  # discard port: nothing listens
    started = time.monotonic()
    with SshConsole(target, name=PHONE, log_path=tmp_path / "c.log", reconnect_attempts=3,
                    reconnect_interval=0.05, connect_timeout=1) as c:
        with pytest.raises(LabError, match=r"unreachable: 3 attempts .*SSH Access"):
            c.wait_connected(5)
        with pytest.raises(LabError, match="unreachable"):
            c.expect("x", 1)
    assert time.monotonic() - started < 4


def test_unknown_address_is_waited_for_then_learned(tmp_path: Path, phone: Phone) -> None:
    events = EventLog()
    target = SshTarget(None, phone.ssh.port, *LOGIN[:1], SecretStr(LOGIN[1]))
    with SshConsole(target, name=PHONE, log_path=tmp_path / "c.log",
                    locate=learned_address(events, PHONE), reconnect_attempts=100,
                    reconnect_interval=0.05) as c:
        assert not c.wait_connected(0.3)
        assert "not known yet" in (tmp_path / "c.log").read_text()
        events.record("tftp.rrq", source="tftp", phone=PHONE, address="127.0.0.1", file="x")
        assert c.wait_connected(5)


def test_changed_host_key_is_refused(phone: Phone, tmp_path: Path) -> None:
    with console(phone, tmp_path) as c:
        assert c.wait_connected(5)
        phone.loop.run(phone.ssh.close())
        phone.loop.run(phone.ssh.start())  # same port, a new key: another device answers
        with pytest.raises(LabError, match=r"presented host key .* another device"):
            c.expect("x", 5)


def test_typed_lines_reach_the_phone(phone: Phone, tmp_path: Path) -> None:
    with console(phone, tmp_path) as c:
        c.send("erase itl\r")
        c.sendline("key {Settings}**#")
        deadline = time.monotonic() + 2
        while len(phone.typed) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert phone.typed == ["erase itl", "key {Settings}**#"]


def _pty_opened(path: str) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == path)


def test_twin_8845_is_observed_over_ssh_not_its_pty(tmp_path: Path) -> None:
    lab = load_lab(isolated_twin_lab(tmp_path, 71))
    rack = lab.racks[0]
    twin = TwinRack(lab, rack, tmp_path / "twin")
    twin.start()
    events, phones = twin.events, {}
    try:
        wiring = twin.wiring()
        assert PHONE in wiring.ssh_consoles and PHONE not in wiring.consoles
        phones = build_phones(rack, wiring, log_dir=tmp_path / "logs", events=events,
                              confirm=lambda _: False)
        ssh_console = phones[PHONE].console
        assert isinstance(ssh_console, SshConsole) and isinstance(ssh_console, Console)
        ssh_console.expect(r"config file SEP00000A000002\.cnf\.xml\S* authenticated", 10)
        pty = twin.phones[PHONE].console_path
        assert pty is not None and _pty_opened(pty) == 1  # only the twin's own end
        assert any("TL file updated" in line for line in lines_of(events))
        access = twin.phones[PHONE].ssh
        assert access is not None and access.sessions == 1
        phones[PHONE].keypad.erase_itl()  # the twin's commands work over SSH too
        ssh_console.expect("Erasing ITL file", 5)
    finally:
        close_phones(phones)
        twin.stop()
