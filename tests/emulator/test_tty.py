"""The twin's console: real pty, family line formats, typed commands, never-blocking writer."""

from __future__ import annotations

import os
import queue
import time
from datetime import datetime

import pytest
import serial

from harness.phone_models import Family
from phone_drivers.console_patterns import ConsoleEvent, is_confirmed, line_regex, pattern
from phone_drivers.emulator import console_lines as L
from phone_drivers.emulator.tty import PhoneTty, TtyCommand, parse_command

WHEN = datetime(2024, 3, 7, 4, 51, 27, 181249)
MAC = "001122AABBCC"


def canonical(family: Family) -> dict[ConsoleEvent, list[L.Line]]:
    """Every canonical line the twin prints, by the event its pattern must find."""
    done = L.fetch_done(family, "127.0.1.1", pid=284)
    tvs, tl = L.tvs_connect(family, "127.0.1.2"), L.trust_list_accepted(family)
    query = L.tvs_query(family)
    return {
        ConsoleEvent.POWER_UP: [L.power_up(family, "7962", "SCCP42.9-4-2SR3")],
        ConsoleEvent.DHCP_DISCOVER: [L.dhcp_discover(family)],
        ConsoleEvent.DHCP_BOUND: [L.dhcp_bound(family, "127.0.2.5")],
        ConsoleEvent.TFTP_SERVER: [L.tftp_server(family, 150)],
        ConsoleEvent.FETCH_START: [L.fetch_start(family, f"ITLSEP{MAC}.tlv", pid=284, transfer=3)],
        ConsoleEvent.FETCH_DONE: [done[0]], ConsoleEvent.FETCH_SERVER: [done[1]],
        ConsoleEvent.TVS_CONNECT: [tvs[0]], ConsoleEvent.TLS_OK: [L.tls_ok(family)],
        ConsoleEvent.TVS_QUERY: [query[0]], ConsoleEvent.TVS_CACHED: [query[1]],
        ConsoleEvent.TL_VERIFIED: [tl[2]], ConsoleEvent.TL_UPDATED: [tl[3]],
        ConsoleEvent.TL_FAILED: [L.trust_list_failed(family, "ITLFile.tlv")],
        ConsoleEvent.TRUST_ERASED: [L.trust_erased(family, "CTL and ITL")],
        ConsoleEvent.CONFIG_ACCEPTED: [L.config_accepted(family, f"SEP{MAC}.cnf.xml.sgn")],
        ConsoleEvent.CONFIG_REJECTED: [L.config_rejected(family, f"SEP{MAC}.cnf.xml.sgn", 14)],
        ConsoleEvent.REGISTERED: [L.registered(family, "127.0.1.1", "SIP")],
        ConsoleEvent.UNKNOWN_COMMAND: [L.unknown_command(family, "frobnicate")],
        ConsoleEvent.LOAD_UPGRADE: [L.load_upgrade(family, "SIP42.9-3-1SR4-1S",
                                                   "SIP42.9-4-2SR3-1S")],
        ConsoleEvent.LOAD_FAILED: [L.load_failed(family, "SIP42.9-4-2SR3-1S.loads"),
                                   L.load_failed(family, "cnu42.sbn", "Load Auth Failed")],
    }


@pytest.mark.parametrize("family", [Family.C79X1, Family.C88XX])
def test_every_canonical_line_matches_its_pattern_and_no_other(family: Family) -> None:
    table = canonical(family)
    assert set(table) == set(ConsoleEvent)
    other = Family.C79X1 if family is Family.C88XX else Family.C88XX
    for event, lines in table.items():
        for line in lines:
            text = L.format_line(family, line, when=WHEN, seq=17) + "\r\n"
            assert pattern(event, family).search(text), (event, text)
            assert not pattern(event, other).search(text), (event, "matched other dialect")
            hits = [e for e in ConsoleEvent if pattern(e, family).search(text)]
            assert hits == [event], (text, hits)
            assert line_regex(family).match(text.rstrip("\n"))


def test_line_shapes_are_exactly_hardware_md_2_2() -> None:
    dhcp = L.format_line(Family.C79X1, L.dhcp_discover(Family.C79X1), when=WHEN, seq=1)
    assert dhcp == "NOT 04:51:27.181249 DHCP: Sending Discover..."
    opt = L.format_line(Family.C79X1, L.tftp_server(Family.C79X1), when=WHEN, seq=1)
    assert opt == "INF 04:51:27.181249 DLoad: TFTP Svr set by opt150"
    get = L.fetch_start(Family.C88XX, f"CTLSEP{MAC}.tlv", pid=284, transfer=1)
    assert L.format_line(Family.C88XX, get, when=WHEN, seq=1193) == (
        f"1193 NOT Mar 07 04:51:27.181249 dgetfile(284)-GETXXTP [GT1][src=CTLSEP{MAC}.tlv]"
        "[dest=/tmp/CTLFile.tlv]")
    m = pattern(ConsoleEvent.CONFIG_REJECTED, Family.C88XX).search(
        L.format_line(Family.C88XX, L.config_rejected(Family.C88XX, f"SEP{MAC}.cnf.xml.sgn"),
                      when=WHEN, seq=5) + "\r\n")
    assert m and m.group("file") == f"SEP{MAC}.cnf.xml.sgn" and m.group("reason") == "14"
    assert is_confirmed(ConsoleEvent.TL_VERIFIED, Family.C88XX)
    assert not is_confirmed(ConsoleEvent.REGISTERED, Family.C88XX)
    with pytest.raises(ValueError):
        L.format_line(Family.C79X1, L.Line("BAD", "x", "y"), when=WHEN, seq=1)


def test_half_received_line_does_not_match() -> None:
    text = L.format_line(Family.C88XX, L.tls_ok(Family.C88XX), when=WHEN, seq=3)
    assert not pattern(ConsoleEvent.TLS_OK, Family.C88XX).search(text)  # no line end yet


def test_command_table() -> None:
    assert parse_command("ERASE  ITL") == TtyCommand("erase itl")
    assert parse_command("key {Settings}**#") == TtyCommand("key", "{Settings}**#")
    assert parse_command("capf auth 123456") == TtyCommand("capf auth", "123456")
    for bad in ("capf auth 12", "capf auth 12a456", "erase itl now", "key {}", "key x", "reboot"):
        assert parse_command(bad) is None, bad


def test_pty_lines_out_commands_in() -> None:
    commands: queue.Queue[TtyCommand] = queue.Queue()
    with PhoneTty(Family.C79X1, on_command=commands.put, clock=lambda: WHEN) as tty:
        port = serial.serial_for_url(tty.path, baudrate=115200, timeout=1.0)
        try:
            tty.emit(L.dhcp_discover(Family.C79X1))
            assert port.readline() == b"NOT 04:51:27.181249 DHCP: Sending Discover...\r\n"
            port.write(b"erase itl\r\nbogus\rcapf auth 4321\nhelp\r\n")
            assert commands.get(timeout=2) == TtyCommand("erase itl")
            assert commands.get(timeout=2) == TtyCommand("capf auth", "4321")
            assert b"unknown command 'bogus'" in port.readline()
            assert b"commands: key <sequence>" in port.readline()
            assert commands.empty()
        finally:
            port.close()


def test_failing_callback_is_reported_not_fatal() -> None:
    def boom(command: TtyCommand) -> None:
        raise RuntimeError("twin bug")

    with PhoneTty(Family.C88XX, on_command=boom) as tty:
        port = serial.serial_for_url(tty.path, timeout=1.0)
        try:
            port.write(b"show itl\r")
            assert b"console-command 'show itl' failed: twin bug" in port.readline()
            port.write(b"frob\r")  # the serve thread is still alive
            assert b"unknown command 'frob'" in port.readline()
        finally:
            port.close()


def test_writer_never_blocks_when_nobody_reads() -> None:
    with PhoneTty(Family.C88XX, max_pending=50) as tty:
        start = time.monotonic()
        for n in range(5000):
            tty.write_line("DEB", "spam", f"line {n} " + "x" * 100)
        assert time.monotonic() - start < 3.0
        assert tty.dropped > 0  # oldest queued lines went, the writer did not wait


def test_close_unplugs_the_device() -> None:
    tty = PhoneTty(Family.C79X1)
    port = serial.serial_for_url(tty.path, timeout=0.2)
    tty.close()
    with pytest.raises((serial.SerialException, OSError)):
        port.read(port.in_waiting or 1)
    port.close()
    assert not os.path.exists(tty.path)
    tty.close()  # idempotent
