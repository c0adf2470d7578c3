"""PoE power control of a phone through a Cisco IOS switch port, over netmiko.

One driver for the lab Catalyst and the twin's fake switch (docs/ARCHITECTURE.md principle 1):
power off is `power inline never`, on is `power inline auto`, and every change is
confirmed by reading `show power inline <intf>` back until the switch reports the new
state, because IOS accepts the command long before the phone is actually dark or drawing.
Failures of the switch itself (unreachable, bad credentials, hung mid-command, unknown
port) become `RackBroken` (principle 8: a `LabError` that latches the rack, with the
part that failed), never a hang: every netmiko timeout is pinned to
`SwitchConnection.timeout`. A login costs seconds, so one `SwitchSession` per switch
stays open, shared by its ports and re-opened when it drops.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from netmiko import BaseConnection, ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoBaseException, ReadTimeout
from paramiko.ssh_exception import SSHException  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from harness.errors import RackBroken, UsageError
from phone_drivers.power_protocol import PowerControl, PowerState
from phone_drivers.switch_parsers import interface_key, parse_power_inline, rejected_command

__all__ = ["IosPoePort", "PowerControl", "PowerState", "SwitchConnection", "SwitchSession"]


class SwitchConnection(BaseModel):
    """How to reach one switch. Credentials come from the environment (`from_env`),
    never from the topology file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    device_type: Literal["cisco_ios", "cisco_xe"] = "cisco_ios"
    username: str
    password: SecretStr
    secret: SecretStr = SecretStr("")
    timeout: float = Field(default=10.0, gt=0)

    @classmethod
    def from_env(
        cls, host: str, port: int = 22, *, username_env: str = "PHONELAB_SWITCH_USER",
        password_env: str = "PHONELAB_SWITCH_PASSWORD", secret_env: str = "PHONELAB_SWITCH_SECRET",
        environ: Mapping[str, str] | None = None, **settings: object,
    ) -> SwitchConnection:
        """Resolve credentials from environment variables (`secret_env` is optional)."""
        env = os.environ if environ is None else environ
        missing = [name for name in (username_env, password_env) if not env.get(name)]
        if missing:
            raise UsageError(f"switch {host}:{port}: set {' and '.join(missing)} in the "
                             "environment (switch credentials are never kept in the topology)")
        return cls.model_validate({"host": host, "port": port, "username": env[username_env],
                                   "password": env[password_env],
                                   "secret": env.get(secret_env, ""), **settings})

    @property
    def label(self) -> str:
        return f"switch {self.host}:{self.port}"


class SwitchSession:
    """One lazily opened netmiko session to one switch, shared by its ports (thread-safe)."""

    def __init__(self, connection: SwitchConnection, *, retries: int = 2,
                 backoff: float = 0.5) -> None:
        self.connection, self.retries, self.backoff = connection, retries, backoff
        self._conn: BaseConnection | None = None
        self._lock = threading.Lock()

    def send_command(self, command: str) -> str:
        """Run a show command in privileged EXEC; IOS errors raise `RackBroken`."""
        # auto_find_prompt=False: netmiko's prompt probe retries for ~40 s on a hung switch
        run = lambda c: str(c.send_command(command, auto_find_prompt=False))  # noqa: E731
        return self._run(command, run, [command])

    def send_config(self, lines: Sequence[str]) -> str:
        """`configure terminal`, `lines`, `end`; the first rejected line raises `RackBroken`."""
        return self._run("; ".join(lines), lambda c: c.send_config_set(list(lines)), lines)

    def close(self) -> None:
        with self._lock:
            self._drop(graceful=True)

    def _run(self, what: str, action: Callable[[BaseConnection], str],
             commands: Sequence[str]) -> str:
        label, timeout = self.connection.label, self.connection.timeout
        deadline = time.monotonic() + timeout
        with self._lock:
            for attempt in range(self.retries + 1):
                try:
                    output = action(self._connected())
                except NetmikoAuthenticationException as exc:
                    self._drop()
                    if "timeout" in str(exc).lower():
                        raise RackBroken("switch", f"{label}: no answer to login within "
                                         f"{timeout:g} s (switch hung?)") from exc
                    raise RackBroken("switch", f"{label}: authentication failed for user "
                                     f"{self.connection.username!r}") from exc
                except ReadTimeout as exc:
                    self._drop()
                    raise RackBroken("switch", f"{label}: stopped answering during `{what}` "
                                     f"(no prompt within {timeout:g} s)") from exc
                except (ValueError, NetmikoBaseException) as exc:  # no prompt, no config mode
                    self._drop()
                    raise RackBroken("switch", f"{label}: {_first_line(exc)}") from exc
                except (OSError, EOFError, SSHException) as exc:  # refused, reset, dropped
                    self._drop()
                    pause = self.backoff * 2**attempt
                    if attempt == self.retries or time.monotonic() + pause > deadline:
                        raise RackBroken("switch", f"{label} unreachable after {attempt + 1} "
                                         f"attempt(s): {_first_line(exc)}") from exc
                    time.sleep(pause)
                    continue
                culprit, error = rejected_command(output, commands)
                if error:
                    hint = " (no such interface?)" if culprit.startswith("interface ") else ""
                    raise RackBroken("power", f"{label} rejected `{culprit}`: {error}{hint}")
                return output
        raise AssertionError("unreachable")  # pragma: no cover

    def _connected(self) -> BaseConnection:
        if self._conn is not None and not self._conn.is_alive():
            self._drop()
        if self._conn is None:
            c, t = self.connection, self.connection.timeout
            conn = ConnectHandler(
                device_type=c.device_type, host=c.host, port=c.port, username=c.username,
                password=c.password.get_secret_value(), secret=c.secret.get_secret_value(),
                conn_timeout=t, auth_timeout=t, banner_timeout=t, read_timeout_override=t,
                session_timeout=t, allow_agent=False, use_keys=False)
            try:
                conn.enable()
            except (ValueError, ReadTimeout) as exc:  # IOS re-prompts on a wrong secret
                conn.paramiko_cleanup()
                raise RackBroken("switch", f"{c.label}: cannot enter privileged EXEC "
                                 "(`enable`): check the enable secret") from exc
            except BaseException:
                conn.paramiko_cleanup()
                raise
            self._conn = conn
        return self._conn

    def _drop(self, *, graceful: bool = False) -> None:
        """Forget the session; only a healthy one is logged out (`exit`), because netmiko's
        polite logout waits for a prompt that a hung switch never sends."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already dead; nothing to tell anyone
                conn.disconnect() if graceful else conn.paramiko_cleanup()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class IosPoePort(PowerControl):
    """PoE on one switch interface; verifies every change on `show power inline`."""

    def __init__(self, switch: SwitchSession | SwitchConnection, interface: str, *,
                 settle_timeout: float = 15.0, poll_interval: float = 0.5) -> None:
        """Pass the switch's shared `SwitchSession`; a bare connection gets its own."""
        self.session = switch if isinstance(switch, SwitchSession) else SwitchSession(switch)
        self.interface = interface
        self.settle_timeout, self.poll_interval = settle_timeout, poll_interval

    def state(self) -> PowerState:
        output = self.session.send_command(f"show power inline {self.interface}")
        key = interface_key(self.interface)
        for row in parse_power_inline(output):
            if interface_key(row.interface) == key:
                return PowerState(self.interface, row.admin, row.oper, row.watts, row.device)
        raise RackBroken("power", f"{self.session.connection.label}: no PoE row for "
                         f"{self.interface} in `show power inline` (not a PoE port?)")

    def on(self) -> PowerState:
        return self._set("power inline auto", admin="auto", oper="on")

    def off(self) -> PowerState:
        return self._set("power inline never", admin="off", oper="off")

    def cycle(self, off_seconds: float = 5.0) -> PowerState:
        self.off()
        time.sleep(off_seconds)  # the outage itself is the point, not a wait for an event
        return self.on()

    def _set(self, command: str, *, admin: str, oper: str) -> PowerState:
        """Configure, then poll `show power inline` until oper follows (bounded)."""
        label = self.session.connection.label
        self.session.send_config([f"interface {self.interface}", command])
        deadline = time.monotonic() + self.settle_timeout
        while (state := self.state()).oper != oper or state.admin != admin:
            if state.admin != admin:
                raise RackBroken("power", f"{label}: `{command}` not applied ({state.describe()})")
            if time.monotonic() >= deadline:
                hint = " — is a powered device plugged in?" if oper == "on" else ""
                raise RackBroken("power", f"{label}: {self.interface} still oper {state.oper} "
                                 f"{self.settle_timeout:g} s after `{command}`{hint}")
            time.sleep(self.poll_interval)
        return state


def set_many(ports: Sequence[IosPoePort], on: bool) -> list[PowerState]:
    """Switch many ports at once: one config session and one `show power inline` poll
    per switch, instead of a round trip per port (a rack reset touches every phone)."""
    admin, oper = ("auto", "on") if on else ("off", "off")
    command = "power inline auto" if on else "power inline never"
    by_session: dict[int, list[IosPoePort]] = {}
    for port in ports:
        by_session.setdefault(id(port.session), []).append(port)
    states: list[PowerState] = []
    for group in by_session.values():
        session = group[0].session
        lines = [line for p in group for line in (f"interface {p.interface}", command)]
        session.send_config(lines)
        deadline = time.monotonic() + max(p.settle_timeout for p in group)
        while True:
            rows = {interface_key(r.interface): r
                    for r in parse_power_inline(session.send_command("show power inline"))}
            pending = [p for p in group if (row := rows.get(interface_key(p.interface))) is None
                       or row.oper != oper or row.admin != admin]
            if not pending:
                break
            if time.monotonic() >= deadline:
                names = ", ".join(p.interface for p in pending)
                raise RackBroken("power", f"{session.connection.label}: {names} not {oper} "
                                 f"after `{command}`")
            time.sleep(group[0].poll_interval)
        states += [PowerState(p.interface, admin, oper, rows[interface_key(p.interface)].watts,
                              rows[interface_key(p.interface)].device) for p in group]
    return states
