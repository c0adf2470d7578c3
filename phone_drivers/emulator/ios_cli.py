"""The fake switch's IOS command line: modes, prompts, abbreviations, error messages.

netmiko and lab engineers drive real Catalysts with abbreviated commands (`conf t`,
`int gi1/0/3`, `sh power inline`), and the PoE driver recognises failures by IOS's own
`% Invalid input` text. The twin must accept and reject the same input in the same words,
so this interpreter implements IOS's unique-prefix keyword matching and caret errors for
the handful of commands the harness uses. Pure: no sockets; `switch.py` feeds it lines.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, cast

from phone_drivers.emulator import ios_output as out

if TYPE_CHECKING:
    from phone_drivers.emulator.switch import FakeSwitch, PoeAdmin, SwitchPort

Mode = Literal["user", "priv", "config", "config-if", "password"]
INVALID = "% Invalid input detected at '^' marker.\n\n"
SHOWS = ("version", "power", "interfaces", "cdp", "lldp", "mac", "mac-address-table")


class CliError(Exception):
    """A rejected line: `column` is where IOS puts its caret (None = no caret)."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message, column)
        self.message, self.column = message, column


class Words:
    """The tokens of one line with their columns, consumed left to right."""

    def __init__(self, line: str) -> None:
        self.line, self.i = line, 0
        self.tokens = [(m.group(), m.start()) for m in re.finditer(r"\S+", line)]

    def more(self) -> bool:
        return self.i < len(self.tokens)

    def take(self) -> tuple[str, int]:
        if not self.more():
            raise CliError("% Incomplete command.\n\n")
        self.i += 1
        return self.tokens[self.i - 1]

    def keyword(self, *choices: str) -> str:
        """The next word as one of `choices`: an exact match, else a unique prefix."""
        word, col = self.take()
        low = word.lower()
        hits = [c for c in choices if c == low] or [c for c in choices if c.startswith(low)]
        if len(hits) > 1:
            raise CliError(f'% Ambiguous command:  "{self.line.strip()}"\n\n')
        if not hits:
            raise CliError(INVALID, col)
        return hits[0]

    def optional(self, *choices: str) -> str | None:
        return self.keyword(*choices) if self.more() else None

    def number(self, low: int, high: int) -> int:
        word, col = self.take()
        if not word.isdigit() or not low <= int(word) <= high:
            raise CliError(INVALID, col)
        return int(word)

    def done(self) -> None:
        if self.more():
            raise CliError(INVALID, self.tokens[self.i][1])


class IosSession:
    """One login's CLI state on a shared switch: mode, current interface, prompt."""

    def __init__(self, switch: FakeSwitch) -> None:
        self.switch = switch
        self.mode: Mode = "user" if switch.enable_secret else "priv"
        self.port: SwitchPort | None = None
        self.closed = False
        self._tries = 0

    @property
    def prompt(self) -> str:
        host, mode = self.switch.hostname, self.mode
        if mode == "password":
            return "Password: "
        return {"user": f"{host}>", "priv": f"{host}#"}.get(mode, f"{host}({mode})#")

    @property
    def echo(self) -> bool:
        return self.mode != "password"

    def handle(self, line: str) -> str:
        """Run one input line; returns the text to print before the next prompt."""
        if self.mode == "password":
            return self._password(line)
        width, words = len(self.prompt), Words(line.replace("\x00", ""))
        try:
            if not words.more():
                return ""
            if self.mode in ("config", "config-if"):
                return self._config(words)
            return self._exec(words, self.mode == "priv")
        except CliError as err:
            caret = "" if err.column is None else " " * (width + err.column) + "^\n"
            return caret + err.message

    def _password(self, line: str) -> str:
        """IOS asks three times, then gives up with `% Bad secrets`."""
        ok, self._tries = line == self.switch.enable_secret, self._tries + 1
        if ok or self._tries == 3:
            self.mode, self._tries = ("priv" if ok else "user"), 0
        return "" if ok or self.mode == "password" else "% Bad secrets\n\n"

    def _exec(self, words: Words, priv: bool) -> str:
        verb = words.keyword("enable", "disable", "exit", "logout", "quit", "show", "terminal",
                             *(("configure",) if priv else ()))
        if verb == "show":
            return self._show(words, priv)
        if verb == "terminal":
            words.keyword("length", "width")
            words.number(0, 512)
        elif verb == "configure":
            words.optional("terminal")
        words.done()
        if verb == "configure":
            self.mode = "config"
            return "Enter configuration commands, one per line.  End with CNTL/Z.\n"
        if verb == "enable" and self.mode == "user":
            self.mode = "password" if self.switch.enable_secret else "priv"
        elif verb == "disable":
            self.mode = "user"
        self.closed = verb in ("exit", "logout", "quit")
        return ""

    def _show(self, words: Words, priv: bool) -> str:
        what = words.keyword(*SHOWS, *(("running-config",) if priv else ()))
        port: SwitchPort | None = None
        detail = False
        if what in ("power", "cdp", "lldp"):
            words.keyword("inline" if what == "power" else "neighbors")
            port, detail = self._port_then(words, "detail")
        elif what == "interfaces":
            port, _ = self._port_then(words, "status", required=True)
        elif what == "running-config":
            words.keyword("interface")
            port = self._interface(words)
        elif what != "version":
            if what == "mac":
                words.keyword("address-table")
            port = self._interface(words) if words.optional("interface") else None
        words.done()
        return out.show(self.switch, what, port, detail=detail)

    def _port_then(self, words: Words, keyword: str, *, required: bool = False
                   ) -> tuple[SwitchPort | None, bool]:
        """`[<intf>] [keyword]`: the optional interface filter most `show`s take."""
        port = None
        if words.more() and not keyword.startswith(words.tokens[words.i][0].lower()):
            port = self._interface(words)
        flag = words.keyword(keyword) if required else words.optional(keyword)
        return port, flag is not None

    def _interface(self, words: Words) -> SwitchPort:
        """`Gi1/0/3`, `gi 1/0/3`, `GigabitEthernet1/0/3`; unknown → caret at the fault."""
        word, col = words.take()
        kind, number = out.split_name(word)
        full = out.expand_kind(kind)
        if full is None:
            raise CliError(INVALID, col)
        number, col = (number, col + len(kind)) if number else words.take()
        port = self.switch.find_port(full + number)
        if port is None:  # caret under the first slot/port component no port has
            parts = number.split("/")
            known = [out.split_name(p.name)[1].split("/") for p in self.switch.ports
                     if out.split_name(p.name)[0] == full]
            depth = max((_common(parts, k) for k in known), default=0)
            raise CliError(INVALID, col + sum(len(x) + 1 for x in parts[:depth]))
        return port

    def _config(self, words: Words) -> str:
        in_if = self.mode == "config-if"
        verb = words.keyword("interface", "end", "exit", "do", "no",
                             *(("power", "shutdown") if in_if else ()))
        if verb == "do":  # only `do show …`: mode changes from inside config are not modelled
            words.keyword("show")
            return self._show(words, True)
        port = self._interface(words) if verb == "interface" else None
        if verb not in ("interface", "end", "exit"):
            self._port_command(words, verb)
        words.done()
        if port is not None:
            self.port, self.mode = port, "config-if"
        elif verb in ("end", "exit"):
            self.mode = "config" if verb == "exit" and in_if else "priv"
            self.port = None
        return ""

    def _port_command(self, words: Words, verb: str) -> None:
        """`[no] shutdown`, `[no] power inline auto|never|static [max <mW>]`."""
        negate = verb == "no"
        if negate:
            if self.mode != "config-if":
                raise CliError(INVALID, words.tokens[words.i][1] if words.more() else None)
            verb = words.keyword("power", "shutdown")
        assert self.port is not None
        if verb == "shutdown":
            words.done()
            self.switch.configure(self.port, shutdown=not negate)
            return
        words.keyword("inline")
        mode = "auto" if negate else words.keyword("auto", "never", "static")
        watts = words.number(4000, 30000) / 1000 if mode != "never" and words.optional("max") \
            else None
        words.done()
        self.switch.configure(self.port, admin_poe=cast("PoeAdmin", mode), max_watts=watts)


def _common(a: list[str], b: list[str]) -> int:
    """How many leading components two interface numbers share."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))
