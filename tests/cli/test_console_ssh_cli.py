"""`phonelab console` on an `ssh://` console (88xx log over SSH), as an engineer runs it.

The installed script runs in a subprocess; the phone side is the twin's SSH access
(`PhoneSsh` fed by a real `PhoneTty`) in this process, on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.aio import BackgroundLoop
from harness.phone_models import Family
from phone_drivers.emulator.phone_ssh import PhoneSsh
from phone_drivers.emulator.tty import PhoneTty

PHONELAB = Path(sys.executable).with_name("phonelab")
PHONE = "SEP00000A00C202"
LOGIN = ("bench", "pw-cli")


class Phone:
    def __init__(self) -> None:
        self.typed: list[str] = []
        self.loop, self.tty = BackgroundLoop("cli-phone-ssh"), PhoneTty(Family.C88XX)
        self.ssh = PhoneSsh(PHONE, "127.0.0.1", self.loop.loop, login=lambda: LOGIN,
                            typed=self.typed.append)
        self.tty.on_line = self.ssh.publish
        self.loop.run(self.ssh.start())


@pytest.fixture
def phone() -> Iterator[Phone]:
    twin = Phone()
    yield twin
    twin.loop.run(twin.ssh.close())
    twin.loop.close()
    twin.tty.close()


def phonelab(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PHONELAB_PHONE_SSH")}
    return subprocess.run([str(PHONELAB), *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env={**clean, **env}, check=False)


def test_console_url_ssh_shows_the_log_and_sends_typed_lines(phone: Phone,
                                                             tmp_path: Path) -> None:
    printed = phone.tty.write_line("NOT", "SECUREAPP", "TL file updated.")
    result = phonelab("console", "--url", f"ssh://127.0.0.1:{phone.ssh.port}", "--linger", "1",
                      "--log", str(tmp_path / "c.log"), stdin="show status\n",
                      PHONELAB_PHONE_SSH_USER=LOGIN[0], PHONELAB_PHONE_SSH_PASSWORD=LOGIN[1])
    assert result.returncode == 0, result.stderr
    assert printed in result.stdout
    assert f"ssh://127.0.0.1:{phone.ssh.port} as 'bench'" in result.stderr
    assert phone.typed == ["show status"]
    assert LOGIN[1] not in (tmp_path / "c.log").read_text() + result.stderr


def test_topology_ssh_console_takes_the_phone_address_and_env_names(phone: Phone,
                                                                    tmp_path: Path) -> None:
    lab = tmp_path / "bench.yaml"
    lab.write_text(yaml.safe_dump({"name": "bench", "backend": "hardware", "racks": [{
        "name": "r1", "cluster": {"nodes": [{"name": "cucm1", "address": "10.9.0.1"}]},
        "switches": [{"name": "sw1", "host": "10.9.0.2"}],
        "phones": [{"name": PHONE, "model": "8845", "switch": "sw1", "port": "Gi1/0/2",
                    "address": "127.0.0.1",
                    "console": {"url": f"ssh://:{phone.ssh.port}",
                                "credentials": {"username_env": "B_USER",
                                                "password_env": "B_PW"}}}]}]}))
    missing = phonelab("console", PHONE, "--lab", str(lab), B_USER="bench")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"phonelab: {PHONE}: set B_PW in the environment (phone SSH credentials are never "
        "kept in the topology)"]
    ok = phonelab("console", PHONE, "--lab", str(lab), "--linger", "0.5", "--log",
                  str(tmp_path / "c.log"), B_USER=LOGIN[0], B_PW=LOGIN[1])
    assert ok.returncode == 0, ok.stderr


def test_wrong_password_is_one_line_and_exit_3(phone: Phone, tmp_path: Path) -> None:
    began = time.monotonic()
    result = phonelab("console", "--url", f"ssh://127.0.0.1:{phone.ssh.port}", "--log",
                      str(tmp_path / "c.log"), stdin="",
                      PHONELAB_PHONE_SSH_USER=LOGIN[0], PHONELAB_PHONE_SSH_PASSWORD="wrong")
    assert result.returncode == 3, result.stderr
    errors = [x for x in result.stderr.splitlines() if x.startswith("phonelab:")]
    assert len(errors) == 1 and "refused the SSH login of user 'bench'" in errors[0]
    assert time.monotonic() - began < 20


@pytest.mark.parametrize(("url", "env", "message"), [
    ("ssh://127.0.0.1:22", {}, "set PHONELAB_PHONE_SSH_USER and PHONELAB_PHONE_SSH_PASSWORD"),
    ("ssh://", {"PHONELAB_PHONE_SSH_USER": "u", "PHONELAB_PHONE_SSH_PASSWORD": "p"},
     "give the phone's address"),
    ("ssh://root@127.0.0.1", {}, "only ssh://[HOST][:PORT]"),
])
def test_bad_ssh_urls_are_usage_errors(url: str, env: dict[str, str], message: str) -> None:
    result = phonelab("console", "--url", url, **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_serve_needs_the_phone_ssh_variables_before_anything_starts(tmp_path: Path) -> None:
    lab = tmp_path / "bench.yaml"
    lab.write_text(yaml.safe_dump({"name": "bench", "backend": "hardware", "racks": [{
        "name": "r1", "cluster": {"nodes": [{"name": "cucm1", "address": "127.0.0.1"}]},
        "switches": [{"name": "sw1", "host": "10.9.0.2"}],
        "phones": [{"name": PHONE, "model": "8845", "switch": "sw1", "port": "Gi1/0/2",
                    "console": {"url": "ssh://"}}]}]}))
    result = phonelab("serve", "--lab", str(lab), "--ephemeral-ports", "--pki",
                      str(tmp_path / "pki"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"phonelab: rack r1: set PHONELAB_PHONE_SSH_USER ({PHONE}), PHONELAB_PHONE_SSH_PASSWORD "
        f"({PHONE}) in the environment (phone SSH credentials are never kept in the topology)"]
    assert not (tmp_path / "pki").exists()
