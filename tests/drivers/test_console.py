"""SerialConsole on real ptys (the twin's PhoneTty) and on socket:// terminal servers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import LabError, RackBroken
from harness.events import EventLog
from harness.phone_models import Family
from phone_drivers.console import Console, ConsoleTimeout, SerialConsole
from phone_drivers.console_patterns import ConsoleEvent, pattern
from phone_drivers.emulator import console_lines as L
from phone_drivers.emulator.tty import PhoneTty

PHONE = "SEP001122AABBCC"
F = Family.C79X1


@pytest.fixture
def tty() -> Iterator[PhoneTty]:
    with PhoneTty(F) as twin:
        yield twin


@pytest.fixture
def console(tty: PhoneTty, tmp_path: Path) -> Iterator[SerialConsole]:
    with SerialConsole(tty.path, name=PHONE, log_path=tmp_path / PHONE / "console.log",
                       reconnect_attempts=3, reconnect_interval=0.1) as con:
        yield con


def boot(tty: PhoneTty) -> None:
    tty.emit(L.power_up(F, "7962", "SCCP42.9-4-2SR3"), L.dhcp_discover(F),
             L.dhcp_bound(F, "127.0.2.5"), L.tftp_server(F))


def test_expects_boot_lines_and_logs_every_line(tty: PhoneTty, console: SerialConsole) -> None:
    assert isinstance(console, Console)
    boot(tty)
    assert console.expect(pattern(ConsoleEvent.DHCP_DISCOVER, F), 2)
    assert console.expect(pattern(ConsoleEvent.TFTP_SERVER, F), 2).group("option") == "150"
    tty.write_line("INF", "misc", "nobody expects this line")
    tty.write_line("INF", "misc", "nor this one")
    deadline = time.monotonic() + 2
    while "nor this one" not in " ".join(console.tail(2)) and time.monotonic() < deadline:
        time.sleep(0.01)  # the reader thread drains without anyone calling expect
    console.close()
    logged = [line for line in console.log_path.read_text().splitlines() if line[:3] != "###"]
    assert [line.split(" ", 2)[2] for line in logged] == [
        "boot: Cisco IP Phone 7962 load SCCP42.9-4-2SR3 starting",
        "DHCP: Sending Discover...", "DHCP: Succeeded - IP 127.0.2.5",
        "DLoad: TFTP Svr set by opt150", "misc: nobody expects this line", "misc: nor this one"]


def test_lines_become_console_events(tty: PhoneTty, tmp_path: Path) -> None:
    events = EventLog()
    with SerialConsole(tty.path, name=PHONE, log_path=tmp_path / "c.log", events=events):
        tty.emit(L.trust_list_accepted(F))
        event = events.wait_for(lambda e: "TL file updated." in e.data["line"], 2,
                                what="console line")
    assert event.kind == "console.line" and event.phone == PHONE and event.source == "console"
    assert len(events.of_kind("console")) == 4


def test_timeout_shows_pattern_tail_and_log_within_the_timeout(
        tty: PhoneTty, console: SerialConsole) -> None:
    boot(tty)
    console.expect("opt150", 2)
    start = time.monotonic()
    with pytest.raises(ConsoleTimeout) as caught:
        console.expect(pattern(ConsoleEvent.TL_VERIFIED, F), 0.5)
    assert 0.45 < time.monotonic() - start < 1.0
    message = str(caught.value)
    assert "TL file verified successfully" in message
    assert "DLoad: TFTP Svr set by opt150" in message and "Sending Discover" in message
    assert str(console.log_path) in message
    assert isinstance(caught.value, AssertionError)  # a phone finding, not a lab failure


def test_consumed_output_does_not_match_twice_and_clear_forgets(
        tty: PhoneTty, console: SerialConsole) -> None:
    tty.emit(L.tls_ok(F))
    console.expect("Handshake successful", 2)
    with pytest.raises(ConsoleTimeout):
        console.expect("Handshake successful", 0.2)
    tty.emit(L.tls_ok(F))
    time.sleep(0.2)
    console.clear()
    with pytest.raises(ConsoleTimeout):
        console.expect("Handshake successful", 0.2)


def test_pty_closed_under_the_reader_is_a_lab_error(tty: PhoneTty, tmp_path: Path) -> None:
    # Opened by a by-id style link, as on a rack (/dev/serial/by-id/...), which goes
    # with the device: the bare /dev/pts/N number may be handed to another phone of
    # this process at once, and reopening it would read that phone.
    link = tmp_path / "by-id-console"
    link.symlink_to(tty.path)
    console = SerialConsole(str(link), name=PHONE, log_path=tmp_path / PHONE / "console.log",
                            reconnect_attempts=3, reconnect_interval=0.1)
    console.open()
    boot(tty)
    console.expect("opt150", 2)
    tty.close()
    link.unlink()
    start = time.monotonic()
    with pytest.raises(LabError, match=r"is gone.*3 reopen attempts failed") as caught:
        console.expect("never printed", 10)
    assert time.monotonic() - start < 2.0  # the bounded retries, not the caller's 10 s
    assert not isinstance(caught.value, AssertionError)
    assert isinstance(caught.value, RackBroken) and caught.value.part == "console"
    with pytest.raises(LabError):
        console.send("erase itl\r")
    assert "lost " in console.log_path.read_text()
    console.close()


def test_open_failure_is_a_lab_error(tmp_path: Path) -> None:
    con = SerialConsole("/dev/pts/no-such-port", name=PHONE, log_path=tmp_path / "c.log")
    with pytest.raises(LabError, match="cannot open /dev/pts/no-such-port"):
        con.open()


class TerminalServer:
    """A one-port terminal server: the phone answers `banner` to every Enter typed."""

    def __init__(self, banner: bytes) -> None:
        self.banner, self.typed = banner, b""
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        """Stop listening (shutdown wakes the blocked accept; close alone would not)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.drop()

    def drop(self) -> None:
        """Hang up every session (shutdown first: a blocked recv keeps a bare close silent)."""
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        while data := _recv(conn):
            self.typed += data
            if b"\r" in data:
                conn.sendall(self.banner)


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(4096)
    except OSError:
        return b""


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_socket_url_works_and_reconnects_to_the_same_url(tmp_path: Path) -> None:
    server = TerminalServer(b"NOT 04:51:27.181249 DHCP: Sending Discover...\r\n")
    log = tmp_path / "c.log"
    with SerialConsole(f"socket://127.0.0.1:{server.port}", name=PHONE, log_path=log,
                       reconnect_attempts=5, reconnect_interval=0.1) as con:
        con.sendline("show status")
        con.expect(pattern(ConsoleEvent.DHCP_DISCOVER, F), 2)
        assert server.typed == b"show status\r"
        server.drop()  # the terminal server hangs up
        wait_until(lambda: "reconnected to socket://" in log.read_text())
        con.sendline("")
        con.expect(pattern(ConsoleEvent.DHCP_DISCOVER, F), 2)  # answered on the new session
    assert len(server.connections) == 2
    server.stop()


def test_timeout_while_still_reconnecting_is_a_lab_error(tmp_path: Path) -> None:
    server = TerminalServer(b"")
    log = tmp_path / "c.log"
    with SerialConsole(f"socket://127.0.0.1:{server.port}", name=PHONE, log_path=log,
                       reconnect_attempts=50, reconnect_interval=0.2) as con:
        wait_until(lambda: len(server.connections) == 1)
        server.stop()
        wait_until(lambda: "lost socket://" in log.read_text())
        start = time.monotonic()
        with pytest.raises(LabError, match="still reconnecting"):
            con.expect("anything", 0.5)
        assert time.monotonic() - start < 1.0
