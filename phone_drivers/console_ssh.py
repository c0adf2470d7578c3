"""The log console of phones without a serial jack (88xx): the phone's own SSH access.

docs/HARDWARE.md §2.3 (Q3: no public 88xx serial console): with "SSH Access" enabled
in CUCM, the phone accepts the user and password of its config (`sshUserId`,
`sshPassword`, docs/REAL_WIRE.md §4.1); a second `login:` asks for a firmware user and
the shell's log command prints the debug log. That second stage is public only for
the 79x2 (`debug`/`debug`, `show strace`), so every step of it is topology settings
(`lab_topology.schema.SshShell`, docs/HARDWARE.md Q5).

`SshConsole` is a `Console` like `SerialConsole`, with the same plumbing underneath
(`console_log`): every received line goes to the per-test log file and, as a
`console.line` event keyed by the phone, to the timeline; `expect` is pexpect's.

Why asyncssh and not paramiko: it is already the twin's SSH server library, it is
typed (mypy --strict), and one small event loop serves login, stream and keepalives
without a thread per channel. Lifecycle:

* The phone is often not reachable when the console opens (powered off, booting, SSH
  Access not yet in its config): connecting is retried every `reconnect_interval`,
  at most `reconnect_attempts` times in a row (the count restarts once a stream is
  running), then the console is gone and `expect`/`send` raise `LabError`.
* A dropped stream (reboot, cable) is reconnected the same way. The log command
  replays the phone's log buffer first: lines up to the last one already received
  are skipped, so the log and the timeline carry each line once.
* Refused credentials, a refused shell login and a changed host key are not retried:
  `LabError` at once, naming what to fix.
* Host keys: lab phones have self-made keys nobody distributes, so the first key seen
  is accepted and pinned for the console's life; a different key later (another
  device answering on the phone's address) is refused. Nothing is written to
  ~/.ssh/known_hosts, and no local keys, agent or ssh config are used.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from pydantic import SecretStr

from harness.aio import BackgroundLoop
from harness.errors import LabError, RackBroken
from harness.events import EventLog
from lab_topology.schema import SshShell
from phone_drivers.console_log import ByteFeed, ConsoleLog, FeedSpawn
from phone_drivers.console_matching import MatchingConsole

_EOF = b""


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in. `host` None: the phone's address, asked of `locate`."""

    host: str | None
    port: int
    username: str
    password: SecretStr
    shell: SshShell = field(default_factory=SshShell)
    reconnect_attempts: int = 300  # in a row, `reconnect_interval` apart: a phone's boot fits
    reconnect_interval: float = 1.0

    def label(self, host: str | None = None) -> str:
        return f"ssh://{host or self.host or '(phone address)'}:{self.port}"


class _Retry(Exception):
    """This attempt failed in a way a later one may not (phone off, booting, dropped)."""


class SshConsole(MatchingConsole):
    """A phone's log over SSH, with a complete log file. String patterns compile with
    `re.MULTILINE`, as `SerialConsole`'s do."""

    def __init__(self, target: SshTarget, *, name: str, log_path: Path,
                 events: EventLog | None = None, locate: Callable[[], str | None] | None = None,
                 reconnect_attempts: int | None = None, reconnect_interval: float | None = None,
                 connect_timeout: float = 10.0, login_timeout: float = 10.0,
                 replay_quiet: float = 0.3, replay_max: float = 3.0,
                 write_timeout: float = 5.0) -> None:
        self.target, self.name, self.locate = target, name, locate
        self.reconnect_attempts = reconnect_attempts or target.reconnect_attempts
        self.reconnect_interval = reconnect_interval or target.reconnect_interval
        self.connect_timeout, self.login_timeout = connect_timeout, login_timeout
        self.replay_quiet, self.replay_max = replay_quiet, replay_max
        self.write_timeout = write_timeout
        self._log = ConsoleLog(log_path, name=name, events=events)
        self._feed = ByteFeed()
        self._spawn = FeedSpawn(self._feed)
        self._connected, self._stopping = threading.Event(), False
        self._gone: LabError | None = None
        self._loop: BackgroundLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncssh.SSHClientProcess[bytes] | None = None
        self._pinned: str | None = None  # host key fingerprint, first one seen
        self._last_line: str | None = None  # last complete line of a running stream
        self._partial, self._fresh, self._open_line = "", False, False
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.sessions = 0  # streams started (1 + reconnects), for reports and tests

    @property
    def url(self) -> str:
        return self.target.label(self._host())

    def open(self) -> SshConsole:
        """Start connecting in the background (the phone may not be up yet)."""
        if self._loop is None:
            self._loop = BackgroundLoop(f"ssh console {self.name}")
            self._log.note(f"connecting to {self.url} as {self.target.username!r}")
            self._loop.run(self._start())
        return self

    def close(self) -> None:
        self._stopping = True
        if self._loop is not None:
            with contextlib.suppress(TimeoutError):
                self._loop.run(self._stop(), timeout=5)
            self._loop.close()
            self._loop = None
        self._feed.close()
        self._log.close()

    def __enter__(self) -> SshConsole:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_connected(self, timeout: float) -> bool:
        """True once a log stream runs (False on timeout); LabError if the console is gone."""
        connected = self._connected.wait(timeout)
        if self._gone is not None:
            raise self._gone
        return connected

    def _started(self) -> bool:
        return self._loop is not None

    def _closed_error(self) -> LabError:
        return LabError(f"console {self.name}: closed")

    def _unreachable_error(self, timeout: float) -> LabError:
        return LabError(f"console {self.name}: no log stream from {self.url} within "
                        f"{timeout:g} s (phone unreachable or SSH Access off; still "
                        f"retrying); log: {self.log_path}")

    def send(self, text: str) -> None:
        """Type `text` into the log session (on the twin: its console commands)."""
        budget = self.reconnect_attempts * self.reconnect_interval + self.connect_timeout
        if self._loop is None or not self._connected.wait(budget) or self._gone is not None:
            raise self._gone or LabError(f"console {self.name}: not connected to {self.url}")
        future = asyncio.run_coroutine_threadsafe(self._write(text), self._loop.loop)
        try:
            future.result(self.write_timeout)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise LabError(f"console {self.name}: write to {self.url} failed: "
                           f"{exc or type(exc).__name__}") from exc
        self._log.note(f"sent {text!r}")

    # --- on the console's loop ----------------------------------------------------------
    def _host(self) -> str | None:
        return self.target.host or (self.locate() if self.locate is not None else None)

    async def _start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"ssh console {self.name}")

    async def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures, cause = 0, "not connected yet"
        while not self._stopping:
            started = self.sessions
            try:
                await self._session()
                cause = "the phone closed the session"
            except LabError as exc:
                self._give_up(exc)
                return
            except (_Retry, OSError, asyncssh.Error, TimeoutError) as exc:
                cause = str(exc) or type(exc).__name__
            except Exception as exc:  # a defect here must not leave callers waiting forever
                self._give_up(LabError(f"console {self.name}: SSH console failed: {exc!r}; "
                                       f"log: {self.log_path}"))
                return
            self._connected.clear()
            self._proc = None
            failures = 1 if self.sessions > started else failures + 1
            if failures == 1 or self.sessions > started:
                self._log.note(f"{self.url}: {cause}; retrying")
            if failures > self.reconnect_attempts:
                self._give_up(RackBroken(  # a dead wire, like a serial console: latch the rack
                    "console",
                    f"console {self.name}: {self.url} unreachable: {self.reconnect_attempts} "
                    f"attempts {self.reconnect_interval:g} s apart failed, last: {cause} (is "
                    f"the phone up, with SSH Access enabled in its config?); "
                    f"log: {self.log_path}"))
                return
            await asyncio.sleep(self.reconnect_interval)

    def _give_up(self, error: LabError) -> None:
        self._gone = error
        self._log.note(str(error))
        self._feed.close()
        self._connected.set()  # wake senders: they raise self._gone

    async def _session(self) -> None:
        """One connection: login, log command, stream until it ends."""
        host = self._host()
        if host is None:
            raise _Retry("the phone's address is not known yet (no DHCP/registration seen)")
        label = self.target.label(host)
        try:
            conn = await asyncssh.connect(
                host, self.target.port, username=self.target.username,
                password=self.target.password.get_secret_value(), known_hosts=None,
                client_keys=None, agent_path=None, config=None,
                preferred_auth="password,keyboard-interactive",
                connect_timeout=self.connect_timeout, keepalive_interval=5,
                keepalive_count_max=3)
        except asyncssh.PermissionDenied:
            raise LabError(f"console {self.name}: {label} refused the SSH login of user "
                           f"{self.target.username!r}: the credentials must be the phone's SSH "
                           "user/password written into its config (sshUserId/sshPassword)"
                           ) from None
        async with conn:
            self._pin(conn, label)
            proc = await conn.create_process(term_type="vt100", encoding=None)
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            pump = asyncio.create_task(self._pump(proc, queue))
            try:
                await self._shell_login(proc, queue, label)
                self._proc = proc
                proc.stdin.write((self.target.shell.log_command + "\r").encode())
                self.sessions += 1
                self._log.note(f"streaming {self.target.shell.log_command!r} from {label}")
                self._connected.set()
                await self._stream(queue)
            finally:
                pump.cancel()

    def _pin(self, conn: asyncssh.SSHClientConnection, label: str) -> None:
        key = conn.get_server_host_key()
        seen = key.get_fingerprint() if key is not None else "(none)"
        if self._pinned is None:
            self._pinned = seen
            self._log.note(f"{label}: host key {seen} accepted and pinned for this session")
        elif seen != self._pinned:
            raise LabError(f"console {self.name}: {label} presented host key {seen}, not "
                           f"{self._pinned} seen earlier in this session: another device "
                           "answers on the phone's address")

    @staticmethod
    async def _pump(proc: asyncssh.SSHClientProcess[bytes], queue: asyncio.Queue[bytes]) -> None:
        try:
            while data := await proc.stdout.read(4096):
                queue.put_nowait(data)
        except (OSError, asyncssh.Error):
            pass
        queue.put_nowait(_EOF)

    async def _shell_login(self, proc: asyncssh.SSHClientProcess[bytes],
                           queue: asyncio.Queue[bytes], label: str) -> None:
        """The second stage of docs/HARDWARE.md §2.3, as the topology's `shell` describes it."""
        shell, seen = self.target.shell, [""]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.login_timeout

        async def wait_for(regex: str, what: str) -> None:
            while not re.search(regex, seen[0]):
                left = deadline - loop.time()
                try:
                    data = await asyncio.wait_for(queue.get(), max(left, 0.001))
                except TimeoutError:
                    got = seen[0][-200:].replace("\r", "")
                    raise LabError(f"console {self.name}: {label} showed no {what} within "
                                   f"{self.login_timeout:g} s after the SSH login (received "
                                   f"{got!r}); set console.shell in the topology "
                                   "(docs/HARDWARE.md, section SSH to phones)") from None
                if data == _EOF:
                    raise _Retry("session closed during the shell login")
                self._take(data)
                seen[0] += data.decode("utf-8", "replace")

        if shell.login is not None:
            await wait_for(r"login:\s*$", "'login:' prompt")
            proc.stdin.write((shell.login + "\r").encode())
            seen[0] = ""
            await wait_for(r"[Pp]assword:\s*$", "'Password:' prompt")
            proc.stdin.write((shell.password + "\r").encode())
            seen[0] = ""
            await wait_for(rf"(?:{shell.prompt})|[Ii]ncorrect|login:\s*$", "shell prompt")
            if not re.search(shell.prompt, seen[0]):
                raise LabError(f"console {self.name}: {label} refused the shell login "
                               f"{shell.login!r} (console.shell.login/password in the topology, "
                               "docs/HARDWARE.md, section SSH to phones)")
        else:
            await wait_for(shell.prompt, "shell prompt")

    async def _stream(self, queue: asyncio.Queue[bytes]) -> None:
        """Log lines until the session ends; a replayed buffer is trimmed first."""
        self._partial, self._fresh = "", True
        if self._last_line is not None and not await self._replay(queue):
            return
        while (data := await queue.get()) != _EOF:
            self._take(data, stream=True)

    async def _replay(self, queue: asyncio.Queue[bytes]) -> bool:
        """Hold the first burst; drop it up to the last line logged before the drop.
        False when the session ended meanwhile."""
        loop = asyncio.get_running_loop()
        held, deadline, alive = b"", loop.time() + self.replay_max, True
        while (left := min(self.replay_quiet, deadline - loop.time())) > 0:
            try:
                data = await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                break
            if data == _EOF:
                alive = False
                break
            held += data
            lines = held.decode("utf-8", "replace").split("\n")
            for index in range(len(lines) - 2, -1, -1):
                if lines[index].rstrip("\r") == self._last_line:
                    self._take("\n".join(lines[index + 1:]).encode(), stream=True)
                    return alive
        if held:
            self._log.note("the phone's log no longer holds the last line seen before the "
                           "drop: its whole replay follows")
            self._take(held, stream=True)
        return alive

    def _take(self, data: bytes, *, stream: bool = False) -> None:
        """Received bytes → matcher feed, log file/events; for the log stream also the
        last complete line (what a replay after a reconnect is trimmed to). The stream's
        first line never continues the prompt line, so `^` patterns match it."""
        if stream and self._fresh and data:
            self._fresh = False
            if self._open_line and not data.startswith((b"\r", b"\n")):
                data = b"\r\n" + data
        if data:
            self._open_line = not data.endswith(b"\n")
        self._feed.put(data)
        self._log.feed(data)
        if not stream:
            return
        *complete, self._partial = (self._partial + self._decoder.decode(data)).split("\n")
        for line in reversed(complete):
            if line.strip():
                self._last_line = line.rstrip("\r")
                break

    async def _write(self, text: str) -> None:
        proc = self._proc
        if proc is None:
            raise OSError("session dropped")
        proc.stdin.write(text.encode())
        await proc.stdin.drain()


def learned_address(events: EventLog, phone: str) -> Callable[[], str | None]:
    """The phone's address as the cluster's endpoints saw it (DHCP, TFTP, registration):
    for `ssh://` consoles without a host on racks whose phones get DHCP addresses."""
    def locate() -> str | None:
        for event in reversed(events.for_phone(phone)):
            peer = event.data.get("peer")
            if isinstance(peer, str) and peer:
                return peer.rsplit(":", 1)[0] if peer.count(":") == 1 else peer
        return None
    return locate

