"""The fake switch's SSH side: one IOS shell per session, password login.

Split from `switch.py` (port model and PoE) so each reads in one sitting. Lines
are answered as asyncssh's line editor hands them over, with echo handled the
way netmiko expects from a Catalyst; a frozen switch parks logins and input.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import asyncssh

from phone_drivers.emulator.ios_cli import IosSession

if TYPE_CHECKING:
    from phone_drivers.emulator.switch import FakeSwitch


class SshShell(asyncssh.SSHServerSession[str]):
    """One SSH shell. Lines are answered synchronously as the line editor hands them over,
    so with type-ahead each answer still follows its own echo, as on a real switch."""

    def __init__(self, switch: FakeSwitch) -> None:
        self.switch, self.cli, self.chan = switch, IosSession(switch), cast(Any, None)
        self.pending: list[str] = []
        self.partial, self.editor = "", False

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def shell_requested(self) -> bool:
        return True

    def session_started(self) -> None:
        self.switch._shells.add(self)
        # asyncssh's line editor runs only with a PTY (netmiko asks for one); it adds the \r
        self.editor = bool(self.chan.get_terminal_type()) and hasattr(self.chan, "set_echo")
        self.eol = "\n" if self.editor else "\r\n"
        if self.editor:  # IOS ignores the NUL that netmiko's is_alive() sends
            self.chan.register_key("\x00", lambda line, pos: (line, pos))
        self.pending.append("")  # answered with the first prompt
        self.thaw()

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        *lines, self.partial = (self.partial + data).split("\n")
        self.pending += [line.rstrip("\r") for line in lines]
        self.thaw()

    def thaw(self) -> None:
        """Answer queued lines unless frozen (then they wait for `unfreeze()`)."""
        self.set_echo(self.cli.echo and not self.switch.frozen)
        while self.pending and not self.switch.frozen:
            text = self.cli.handle(self.pending.pop(0))
            self.set_echo(self.cli.echo)
            try:
                self.chan.write((text + ("" if self.cli.closed else self.cli.prompt))
                                .replace("\n", self.eol))
                if self.cli.closed:
                    self.chan.exit(0)
            except OSError:  # the client left while we were frozen or logging out
                self.cli.closed = True
            if self.cli.closed:
                self.pending.clear()

    def set_echo(self, echo: bool) -> None:
        if self.editor:
            self.chan.set_echo(echo)

    def connection_lost(self, exc: Exception | None) -> None:
        self.switch._shells.discard(self)


class SshLogin(asyncssh.SSHServer):
    """Password login that hangs while the switch is frozen and fails once it is stopped."""

    def __init__(self, switch: FakeSwitch) -> None:
        self.switch = switch

    def session_requested(self) -> SshShell:
        return SshShell(self.switch)

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        while self.switch.frozen:
            await asyncio.sleep(0.05)
        ok = (username, password) == (self.switch.username, self.switch.password)
        return ok and self.switch.running
