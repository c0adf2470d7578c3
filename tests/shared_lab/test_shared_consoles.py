"""Consoles over the network: labgrid-exporter serves the twin's console ptys through
ser2net (RFC 2217); phonelab reads them through pyserial's `rfc2217://` handler, named
directly or as `labgrid://NAME` resources of the rack's place."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.errors import LabError
from harness.leases.labgrid_lease import LabgridLease
from harness.leases.place_consoles import with_place_consoles
from harness.phone_models import Family
from lab_topology import parse_lab
from phone_drivers.console import ConsoleTimeout, SerialConsole
from phone_drivers.emulator.tty import HELP, PhoneTty
from tests.shared_lab.labgrid_procs import BIN, Coordinator, exporter, needs_ser2net, wait_resources

PHONES = ("SEP00000A000001", "SEP00000A000002")


@pytest.fixture
def ttys() -> Iterator[list[PhoneTty]]:
    consoles = [PhoneTty(Family.C79X1), PhoneTty(Family.C79X1)]
    yield consoles
    for tty in consoles:
        tty.close()


@contextmanager
def _exported(lg: Coordinator, ttys: list[PhoneTty]) -> Iterator[None]:
    config = "rack1-consoles:\n" + "".join(
        f"  {phone}-console:\n    cls: RawSerialPort\n    port: {tty.path}\n    speed: 9600\n"
        for phone, tty in zip(PHONES[:len(ttys)], ttys, strict=True))
    with exporter(lg, "bench1", config):
        wait_resources(lg, "bench1", len(ttys))
        lg.client("-p", "rack1", "create")
        lg.client("-p", "rack1", "add-match", "bench1/rack1-consoles/*")
        yield


def _lab(lg: Coordinator) -> object:
    return parse_lab({"name": "shared", "backend": "hardware", "racks": [{
        "name": "rack1", "reservation": {"coordinator": lg.address, "place": "rack1"},
        "cluster": {"nodes": [{"name": "cucm1", "address": "127.0.0.1"}]},
        "switches": [{"name": "sw1"}],
        "phones": [{"name": phone, "model": "7962", "switch": "sw1", "port": f"Gi1/0/{i}",
                    "console": {"url": f"labgrid://{phone}-console"}}
                   for i, phone in enumerate(PHONES, 1)]}]})


def path_is_open(tty: PhoneTty, console: SerialConsole, phone: str) -> None:
    """Until the far end reads, what the phone prints may be dropped: knock until heard."""
    deadline = time.monotonic() + 15
    while True:
        tty.write_line("INF", "boot", f"{phone} knock")
        try:
            console.expect(f"{phone} knock", timeout=0.5)
            return
        except ConsoleTimeout:
            if time.monotonic() > deadline:
                raise


def eventually_logged(log: Path, texts: list[str], bound: float = 5.0) -> str:
    """The console log once it holds every text (it is written just after the match)."""
    deadline = time.monotonic() + bound
    while True:
        logged = log.read_text()
        if all(text in logged for text in texts) or time.monotonic() > deadline:
            return logged
        time.sleep(0.05)


def test_place_consoles_resolve_on_acquire_and_carry_every_line_both_ways(
        tmp_path: Path, lg: Coordinator, ttys: list[PhoneTty]) -> None:
    needs_ser2net()
    with _exported(lg, ttys):
        lab = _lab(lg)
        rack = lab.racks[0]  # type: ignore[attr-defined]
        lease = LabgridLease(lg.address, "rack1", "shared", "rack1", user="consoles-test")
        lease.acquire(timeout=20)
        try:
            resolved = with_place_consoles(rack, lease)
            urls = [p.console.url for p in resolved.phones]
            assert all(u.startswith("rfc2217://127.0.0.1:") for u in urls), urls
            assert len(set(urls)) == 2
            for tty, url, phone in zip(ttys, urls, PHONES, strict=True):
                with SerialConsole(url, name=phone, log_path=tmp_path / f"{phone}.log") as con:
                    path_is_open(tty, con, phone)  # ser2net flushes what came before it
                    lines = [tty.write_line("INF", "boot", f"{phone} line {n}") for n in range(50)]
                    con.expect(f"{phone} line 49", timeout=15)
                    wanted = [line.split(" ", 2)[2] for line in lines]
                    logged = eventually_logged(tmp_path / f"{phone}.log", wanted)
                    assert all(text in logged for text in wanted)
                    con.sendline("help")  # typed on the remote side, answered by the twin tty
                    con.expect("commands: key", timeout=10)
        finally:
            lease.release()
        assert "acquired: None" in lg.client("-p", "rack1", "show").stdout


def test_a_console_the_place_does_not_export_is_a_lab_error_naming_what_it_has(
        lg: Coordinator, ttys: list[PhoneTty]) -> None:
    needs_ser2net()
    with _exported(lg, ttys[:1]):
        rack = _lab(lg).racks[0]  # type: ignore[attr-defined]
        lease = LabgridLease(lg.address, "rack1", "shared", "rack1", user="consoles-test")
        lease.acquire(timeout=20)
        try:
            expected = (f"{PHONES[1]}-console is not a NetworkSerialPort of labgrid place "
                        f"rack1 on coordinator .* \\(it has {PHONES[0]}-console\\)")
            with pytest.raises(LabError, match=expected):
                with_place_consoles(rack, lease)
        finally:
            lease.release()


def test_phonelab_console_reads_an_exported_port_by_rfc2217_url(
        tmp_path: Path, lg: Coordinator, ttys: list[PhoneTty]) -> None:
    needs_ser2net()
    with _exported(lg, ttys[:1]):
        lease = LabgridLease(lg.address, "rack1", "shared", "rack1", user="consoles-test")
        lease.acquire(timeout=20)
        try:
            url = lease.consoles()[f"{PHONES[0]}-console"]
            ttys[0].write_line("INF", "boot", "before anyone looked")
            done = subprocess.run(
                [str(BIN / "phonelab"), "console", "--url", url, "--linger", "1",
                 "--log", str(tmp_path / "bench.log")], input="help\n", text=True,
                capture_output=True, timeout=60, env=dict(os.environ))
        finally:
            lease.release()
    assert done.returncode == 0, done.stderr
    assert HELP in done.stdout, done.stdout
    assert f"{url} at 9600 baud" in done.stderr
