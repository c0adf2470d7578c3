"""The twin phone's SSH access, checked with OpenSSH's own client (a party we did not write).

docs/HARDWARE.md §2.3: SSH login with the config's sshUserId/sshPassword, a second
`login:` for the firmware user, then `show strace` prints the log in the 88xx dialect.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.aio import BackgroundLoop
from harness.phone_models import Family
from lab_topology import load_lab
from phone_drivers.console_patterns import ConsoleEvent, pattern
from phone_drivers.emulator import console_lines as lines
from phone_drivers.emulator.phone_ssh import PhoneSsh, config_login
from phone_drivers.emulator.tty import PhoneTty
from phone_drivers.emulator.twin import TwinRack
from tests.isolated_lab import isolated_twin_lab

LOGIN = ("lab", "pw-1234")
needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client missing")


@pytest.mark.parametrize(("config", "expected"), [
    (b"<device><sshUserId>lab</sshUserId><sshPassword>pw</sshPassword></device>", ("lab", "pw")),
    (b"<device><vendorConfig><sshUserId> u </sshUserId></vendorConfig>"
     b"<sshPassword>p</sshPassword></device>", ("u", "p")),
    (b"<device><sshUserId></sshUserId><sshPassword></sshPassword></device>", None),
    (b"<device><sshUserId>lab</sshUserId></device>", None),
    (b"<device><sshUserId>lab", None),  # not well-formed
    (b'<!DOCTYPE d [<!ENTITY x "y">]><device><sshUserId>&x;</sshUserId>'
     b"<sshPassword>p</sshPassword></device>", None),
    (None, None),
])
def test_config_login(config: bytes | None, expected: tuple[str, str] | None) -> None:
    assert config_login(config) == expected


class Phone:
    def __init__(self) -> None:
        self.login: tuple[str, str] | None = LOGIN
        self.typed: list[str] = []
        self.loop, self.tty = BackgroundLoop("phone-ssh"), PhoneTty(Family.C88XX)
        self.ssh = PhoneSsh("SEP00000A000002", "127.0.0.1", self.loop.loop,
                            login=lambda: self.login, typed=self.typed.append)
        self.tty.on_line = self.ssh.publish
        self.loop.run(self.ssh.start())

    def close(self) -> None:
        self.loop.run(self.ssh.close())
        self.loop.close()
        self.tty.close()


@pytest.fixture
def phone() -> Iterator[Phone]:
    twin = Phone()
    yield twin
    twin.close()


def openssh(phone: Phone, tmp_path: Path, typed: str, password: str = LOGIN[1]
            ) -> subprocess.CompletedProcess[str]:
    """`ssh -tt` with the password from SSH_ASKPASS; `typed` is the session's input."""
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
           "DISPLAY": ":0"}
    return subprocess.run(
        ["ssh", "-tt", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
         "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=5",
         "-p", str(phone.ssh.port), f"{LOGIN[0]}@127.0.0.1"],
        input=typed, capture_output=True, text=True, timeout=15, env=env, check=False)


@needs_ssh
def test_openssh_reads_the_log_in_the_88xx_dialect(phone: Phone, tmp_path: Path) -> None:
    printed = phone.tty.emit(lines.trust_list_accepted(Family.C88XX))
    result = openssh(phone, tmp_path, "debug\ndebug\nshow strace\nerase itl\n\x03exit\n")
    out = result.stdout.replace("\r", "")
    assert "login: " in out and "Password: " in out and "> " in out, out
    assert printed in out
    verified = pattern(ConsoleEvent.TL_VERIFIED, Family.C88XX)
    assert any(verified.search(line + "\n") for line in out.splitlines())
    assert phone.typed == ["erase itl"]  # in the stream, lines are phone commands
    assert "^C" in out and result.returncode == 0  # Ctrl-C: back to the prompt, then exit


@needs_ssh
def test_help_and_phone_commands_at_the_prompt(phone: Phone, tmp_path: Path) -> None:
    result = openssh(phone, tmp_path, "log\nlog\nhelp commands\nkey 123\nexit\n")
    assert "commands: show strace" in result.stdout
    assert phone.typed == ["key 123"]
    assert result.returncode == 0


@needs_ssh
def test_wrong_firmware_login_is_asked_again(phone: Phone, tmp_path: Path) -> None:
    result = openssh(phone, tmp_path, "debug\nwrong\ndefault\nuser\nexit\n")
    out = result.stdout.replace("\r", "")
    assert re.search(r"Login incorrect\nlogin: ", out), out
    assert out.rstrip().endswith(">")  # the second try got the shell


@needs_ssh
def test_wrong_ssh_password_is_refused(phone: Phone, tmp_path: Path) -> None:
    result = openssh(phone, tmp_path, "", password="not-it")
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


@needs_ssh
def test_no_access_before_a_config_names_an_ssh_user(phone: Phone, tmp_path: Path) -> None:
    phone.login = None
    result = openssh(phone, tmp_path, "")
    assert result.returncode == 255
    assert "Permission denied" not in result.stderr  # dropped before any authentication
    assert re.search(r"closed|reset|Connection", result.stderr), result.stderr


@needs_ssh
def test_drop_ends_every_session(phone: Phone, tmp_path: Path) -> None:
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{LOGIN[1]}'\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    with subprocess.Popen(
            ["ssh", "-tt", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-p", str(phone.ssh.port),
             f"{LOGIN[0]}@127.0.0.1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env) as client:
        assert client.stdin is not None and client.stdout is not None
        assert client.stdout.read(7) == b"login: "
        assert phone.ssh.sessions == 1
        phone.ssh.drop()  # reboot / power off
        assert client.wait(5) == 255
    assert phone.ssh.sessions == 0


def test_twin_phone_opens_ssh_only_with_a_config_naming_the_user(tmp_path: Path) -> None:
    lab = load_lab(isolated_twin_lab(tmp_path, 73))
    twin = TwinRack(lab, lab.racks[0], tmp_path / "twin", powered=False)
    twin.start()
    try:
        name = "SEP00000A000002"  # the 8845, `console: ssh://` in the default topology
        phone, access = twin.phones[name], twin.phones[name].ssh
        assert access is not None and access.port > 0
        assert twin.phones["SEP00000A000001"].ssh is None  # a 7962 has its serial console
        assert access.login() is None  # powered off
        switch = twin.switches["sw1"]
        port = switch.find_port("Gi1/0/2")
        assert port is not None
        switch.configure(port, admin_poe="auto")
        deadline = time.monotonic() + 10
        while access.login() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert access.login() == twin.ssh_logins[name]  # from the config the cluster wrote
        switch.configure(port, admin_poe="never")
        deadline = time.monotonic() + 5
        while phone.powered and time.monotonic() < deadline:
            time.sleep(0.02)
        assert access.login() is None  # off again: the config is kept, the network is not
    finally:
        twin.stop()
