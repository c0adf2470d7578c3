"""The twin 88xx phone's SSH access: the way an engineer reads an 88xx log (no serial jack).

docs/HARDWARE.md §2.3: SSH Access is enabled per phone in CUCM, and the user and
password the phone accepts are those of its config (`sshUserId`/`sshPassword`,
docs/REAL_WIRE.md §4.1). After the SSH login a second `login:` prompt asks for a
firmware user (79x2: `log`/`log`, `debug`/`debug`, `default`/`user`); the shell then
takes `show strace`, the debug log. The 88xx second stage is not public (docs/HARDWARE.md
Q5): the twin offers the 79x2 form, and the driver has every step configurable.

Twin rules (what a test can rely on):
* Listening all the time on the phone's own loopback address (a free port, stable for
  the phone's life), but a phone that is off, or whose accepted config names no SSH
  user (before its first config, after a factory reset), drops every connection
  before the SSH handshake: "SSH access disabled". A real phone with SSH Access off
  presumably refuses the TCP connection instead (unverified); the driver treats both
  as "not reachable yet" and retries.
* Wrong SSH credentials fail authentication (the driver's LabError path).
* `show strace` prints the phone's log buffer (the last `backlog` lines, kept across
  reboots like the phone's log files) and then every new line, exactly the lines and
  dialect the pty console prints (`console_lines`, same sequence numbers).
* Ctrl-C ends the stream (back to the prompt); `exit` at the prompt ends the session.
* Other typed lines are the pty's commands (`key …`, `erase itl`, `capf auth …`): the
  twin's stand-in for keypad menus, handled by the same `PhoneTty` dispatcher.
* A reboot or power-off drops every session, as the phone's network goes down.

Written on asyncssh's server, as the fake switch is (emulator/ios_ssh.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from typing import Any, cast

import asyncssh

SHELL_USERS = {"log": "log", "debug": "debug", "default": "user"}  # docs/HARDWARE.md §2.3 (79x2)
PROMPT = "> "
LOG_COMMAND = "show strace"
_HELP = "commands: show strace | help commands | exit | key <sequence> | erase itl | " \
        "erase ctl | factory reset | capf auth <digits> | show itl | show ctl | show status"

Login = tuple[str, str]


def config_login(config: bytes | None) -> Login | None:
    """sshUserId/sshPassword of an accepted config, or None when either is empty."""
    if config is None or b"<!DOCTYPE" in config.upper():
        return None
    try:
        root = ET.fromstring(config)
    except (ET.ParseError, ValueError, LookupError):
        return None
    user = (root.findtext(".//sshUserId") or "").strip()
    password = root.findtext(".//sshPassword") or ""
    return (user, password) if user and password else None


class PhoneSsh:
    """One twin phone's SSH server. Runs on the phone's event loop; `publish` and `drop`
    may be called from any thread."""

    def __init__(self, name: str, address: str, loop: asyncio.AbstractEventLoop, *,
                 login: Callable[[], Login | None], typed: Callable[[str], None],
                 backlog: int = 2000) -> None:
        self.name, self.address, self.loop = name, address, loop
        self.login, self.typed = login, typed  # login: None while SSH access is disabled
        self.port = 0
        self._backlog: deque[str] = deque(maxlen=backlog)
        self._streams: set[_Shell] = set()
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._server: asyncssh.SSHAcceptor | None = None

    async def start(self) -> int:
        """Listen on a free port of the phone's address; returns the port."""
        key = asyncssh.generate_private_key("ssh-ed25519")
        self._server = await asyncssh.create_server(
            lambda: _Access(self), self.address, self.port, server_host_keys=[key],
            encoding="utf-8", line_editor=False, family=socket.AF_INET)
        self.port = self._server.get_port()
        return self.port

    async def close(self) -> None:
        self._drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def publish(self, line: str) -> None:
        """A console line the phone printed (from any thread). Printed by the phone's own
        boot on the loop, it is written at once, as the pty writes it: sessions then trail
        the phone by no more than the pty does."""
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._publish(line)
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody listens
            self.loop.call_soon_threadsafe(self._publish, line)

    def drop(self) -> None:
        """The phone's network went down (reboot, power off): end every session."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._drop)

    @property
    def sessions(self) -> int:
        return len(self._connections)

    # --- on the loop -------------------------------------------------------------------
    def _publish(self, line: str) -> None:
        self._backlog.append(line)
        for shell in list(self._streams):
            shell.write(line + "\r\n")

    def _drop(self) -> None:
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()
        self._streams.clear()

    def _stream(self, shell: _Shell) -> None:
        for line in self._backlog:
            shell.write(line + "\r\n")
        self._streams.add(shell)


class _Access(asyncssh.SSHServer):
    """Password login against the config's SSH user; no access while it has none."""

    def __init__(self, ssh: PhoneSsh) -> None:
        self.ssh, self.conn = ssh, cast(Any, None)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        if self.ssh.login() is None:
            conn.abort()  # SSH access disabled (see the module docstring)
            return
        self.ssh._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ssh._connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self.ssh.login() == (username, password)

    def session_requested(self) -> _Shell:
        return _Shell(self.ssh)


class _Shell(asyncssh.SSHServerSession[str]):
    """Second-stage `login:`, then a prompt taking `show strace` and the phone's commands."""

    def __init__(self, ssh: PhoneSsh) -> None:
        self.ssh, self.chan = ssh, cast(Any, None)
        self.state, self.user, self.partial = "user", "", ""

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def shell_requested(self) -> bool:
        return True

    def session_started(self) -> None:
        self.write("login: ")

    def write(self, text: str) -> None:
        with contextlib.suppress(OSError, asyncssh.Error):
            self.chan.write(text)

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        first, *after_interrupts = data.split("\x03")
        self._lines(first)
        for text in after_interrupts:  # Ctrl-C: drop the typed partial, stream → prompt
            self.partial = ""
            if self.state == "stream":
                self.ssh._streams.discard(self)
                self.state = "shell"
                self.write("^C\r\n" + PROMPT)
            self._lines(text)

    def _lines(self, data: str) -> None:
        *lines, self.partial = (self.partial + data.replace("\r\n", "\n").replace("\r", "\n")
                                ).split("\n")
        for line in lines:
            self._line(line.strip())

    def _line(self, text: str) -> None:
        if self.state == "user":
            self.user, self.state = text, "password"
            self.write("\r\nPassword: ")
        elif self.state == "password":
            if SHELL_USERS.get(self.user) == text:
                self.state = "shell"
                self.write("\r\n" + PROMPT)
            else:
                self.state = "user"
                self.write("\r\nLogin incorrect\r\nlogin: ")
        elif self.state == "stream":
            self.ssh.typed(text)
        elif text == LOG_COMMAND:
            self.state = "stream"
            self.write("\r\n")
            self.ssh._stream(self)
        elif text == "exit":
            self.chan.exit(0)
        else:
            if text == "help commands":
                self.write("\r\n" + _HELP)
            elif text:
                self.ssh.typed(text)
            self.write("\r\n" + PROMPT)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ssh._streams.discard(self)
