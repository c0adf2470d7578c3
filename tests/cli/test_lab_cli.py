"""`phonelab power|console|capture|serve` as a bench engineer runs them, against a real twin.

The installed script runs in a subprocess; the twin (fake IOS switch over SSH, phones
on ptys, cluster on loopback) runs in this process on addresses no other test uses,
so a concurrent run's traffic cannot land in the capture.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import yaml

from harness.events import Event
from lab_topology import load_lab
from phone_drivers.emulator.twin import TwinRack

PHONELAB = Path(sys.executable).with_name("phonelab")
P1, P2 = "SEP00000A00C101", "SEP00000A00C102"
NODE = "127.0.97.1"
TOPOLOGY = {"name": "clilab", "backend": "twin", "racks": [{
    "name": "bench",
    "cluster": {"nodes": [{"name": "cucm1", "address": NODE}]},
    "switches": [{"name": "sw1"}],
    "phones": [
        {"name": P1, "model": "7962", "switch": "sw1", "port": "Gi1/0/1", "address": "127.97.2.1"},
        {"name": P2, "model": "8845", "switch": "sw1", "port": "Gi1/0/2", "address": "127.97.2.2"},
    ]}]}


@pytest.fixture(scope="module")
def lab_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lab") / "clilab.yaml"
    path.write_text(yaml.safe_dump(TOPOLOGY))
    return path


@pytest.fixture(scope="module")
def twin(lab_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinRack]:
    lab = load_lab(lab_file)
    rack = TwinRack(lab, lab.racks[0], tmp_path_factory.mktemp("twin"))
    rack.start()
    yield rack
    rack.stop()


@pytest.fixture(scope="module")
def env(twin: TwinRack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    switch = twin.describe()["switch"]
    return {**os.environ, "PHONELAB_SWITCH_USER": switch["username"],
            "PHONELAB_SWITCH_PASSWORD": switch["password"],
            "PHONELAB_RUN_DIR": str(tmp_path_factory.mktemp("run"))}  # no other run's twins


@pytest.fixture(scope="module")
def switch(twin: TwinRack) -> str:
    info = twin.describe()["switch"]
    return f"{info['host']}:{info['port']}"


def phonelab(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONELAB), *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=timeout)


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([str(PHONELAB), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True, env=env)


def wait_line(stream: IO[str] | None, needle: str, timeout: float = 15.0,
              start: str = "") -> str:
    """Read lines until one starts with `start` and holds `needle`; fail after `timeout`
    instead of hanging."""
    assert stream is not None
    found: list[str] = []

    def scan() -> None:
        for line in stream:
            if line.startswith(start) and needle in line:
                found.append(line)
                return

    reader = threading.Thread(target=scan, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found, f"no line with {needle!r} within {timeout} s"
    return found[0]


def power_events(twin: TwinRack, phone: str, mark: int, *states: str) -> None:
    for state in states:
        def seen(event: Event, state: str = state) -> bool:
            return (event.kind == "phone.power" and event.phone == phone
                    and event.data["state"] == state)

        twin.events.wait_for(seen, 10, after=mark)


def test_power_off_on_and_cycle_a_twin_phone_through_its_switch(
        twin: TwinRack, env: dict[str, str], switch: str) -> None:
    where = ("--switch", switch, "--port", "Gi1/0/1")
    mark = twin.events.mark()
    off = phonelab("power", "off", *where, env=env)
    assert off.returncode == 0, off.stderr
    assert "Gi1/0/1 admin=off oper=off 0.0 W" in off.stdout
    power_events(twin, P1, mark, "off")
    assert not twin.phones[P1].powered
    on = phonelab("power", "on", P1, *where, env=env)
    assert on.returncode == 0, on.stderr
    assert on.stdout.startswith(f"{P1}: Gi1/0/1 admin=auto oper=on")
    assert "IP Phone 7962" in on.stdout
    power_events(twin, P1, mark, "on")
    assert twin.phones[P1].powered
    mark = twin.events.mark()
    cycle = phonelab("power", "cycle", *where, "--off-seconds", "0.2", env=env)
    assert cycle.returncode == 0, cycle.stderr
    assert "oper=on" in cycle.stdout
    power_events(twin, P1, mark, "off", "on")


def test_hardware_topology_names_the_phone_and_credentials_env(
        twin: TwinRack, env: dict[str, str], tmp_path: Path) -> None:
    info = twin.describe()
    spec = {"name": "bench", "backend": "hardware", "racks": [{
        "name": "r1", "cluster": {"nodes": [{"name": "cucm1", "address": NODE}]},
        "switches": [{"name": "sw1", "host": info["switch"]["host"],
                      "port": info["switch"]["port"],
                      "credentials": {"username_env": "BENCH_USER", "password_env": "BENCH_PW"}}],
        "phones": [{"name": P2, "model": "8845", "switch": "sw1", "port": "Gi1/0/2",
                    "console": {"url": twin.phones[P2].console_path, "baud": 115200}}]}]}
    lab = tmp_path / "bench.yaml"
    lab.write_text(yaml.safe_dump(spec))
    creds = {**env, "BENCH_USER": env["PHONELAB_SWITCH_USER"],
             "BENCH_PW": env["PHONELAB_SWITCH_PASSWORD"]}
    state = phonelab("power", "state", P2.lower(), "--lab", str(lab), env=creds)
    assert state.returncode == 0, state.stderr
    assert state.stdout.startswith(f"{P2}: Gi1/0/2 admin=auto")
    missing = phonelab("power", "on", P2, "--lab", str(lab), env=env)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"phonelab: switch {info['switch']['host']}:{info['switch']['port']}: set BENCH_USER "
        "and BENCH_PW in the environment (switch credentials are never kept in the topology)"]
    con = phonelab("console", P2, "--lab", str(lab), "--log", str(tmp_path / "c.log"),
                   "--linger", "0.5", stdin="show status\n")
    assert con.returncode == 0, con.stderr
    assert "at 115200 baud" in con.stderr and " NOT " in con.stdout and "status-" in con.stdout


def test_console_url_mirrors_output_and_logs_when_stdin_is_a_pipe(
        twin: TwinRack, tmp_path: Path) -> None:
    pty = twin.phones[P2].console_path
    assert pty is not None
    result = phonelab("console", "--url", pty, "--linger", "1", "--log",
                      str(tmp_path / "p2.log"), stdin="show status\nhelp\n")
    assert result.returncode == 0, result.stderr
    assert "status-" in result.stdout and "commands: key <sequence>" in result.stdout
    assert str(tmp_path / "p2.log") in result.stderr
    log = (tmp_path / "p2.log").read_text()
    assert "sent 'show status\\r'" in log and "commands: key <sequence>" in log


def test_console_that_vanishes_is_one_line_and_exit_3(tmp_path: Path) -> None:
    # A terminal server that drops the line and stops listening: a pty would do too, but
    # its /dev/pts number is soon reused by other processes and the reopen would succeed.
    server = socket.create_server(("127.0.0.1", 0))
    proc = start("console", "--url", f"socket://127.0.0.1:{server.getsockname()[1]}",
                 "--log", str(tmp_path / "gone.log"))
    try:
        server.settimeout(10)
        line, _ = server.accept()
        # pyserial's socket:// open() discards what arrived before it finished: wait for it
        wait_line(proc.stderr, "Ctrl-C or end of input stops")
        line.sendall(b"INF 00:00:00.000000 misc: about to unplug\r\n")
        wait_line(proc.stdout, "about to unplug")
        began = time.monotonic()
        server.close()
        line.close()
        assert proc.wait(timeout=15) == 3
        assert time.monotonic() - began < 10
        assert proc.stderr is not None
        rest = [x for x in proc.stderr.read().splitlines() if x.startswith("phonelab:")]
        assert len(rest) == 1 and rest[0].startswith("phonelab: lab error: console console:")
        assert "is gone" in rest[0]
    finally:
        proc.kill()
        proc.communicate()


def test_capture_on_loopback_while_a_twin_phone_reboots(
        twin: TwinRack, lab_file: Path, tmp_path: Path) -> None:
    tftp_port = twin.cluster.tftp_address()[1]
    pcap = tmp_path / "boot.pcap"
    proc = start("capture", "--lab", str(lab_file), "--phone", P2, "--duration", "2", "-o",
                 str(pcap), "--endpoint", f"tftp@cucm1={NODE}:{tftp_port}")
    try:
        line = wait_line(proc.stderr, "")  # first stderr line: capturing…, or why not
        if "capturing on" not in line:
            proc.wait(timeout=10)
            assert proc.returncode == 3, line
            pytest.skip(line.split("packet capture unavailable: ", 1)[-1].strip())
        twin.phones[P2].reset()
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert pcap.is_file()
    assert f"{P2}: tftp ITL{P2}.tlv -> ok" in out
    assert P1 not in out
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    read = subprocess.run(["tshark", "-r", str(pcap), "-d", f"udp.port=={tftp_port},tftp",
                           "-Y", "tftp.opcode == 1", "-T", "fields", "-e", "tftp.source_file"],
                          capture_output=True, text=True, timeout=30)
    assert f"ITL{P2}.tlv" in read.stdout.split()


def test_serve_a_twin_topology_on_ephemeral_ports_until_sigint(
        lab_file: Path, tmp_path: Path) -> None:
    proc = start("serve", "--lab", str(lab_file), "--ephemeral-ports", "--pki",
                 str(tmp_path / "pki"))
    try:
        assert "initialised a lab PKI for cucm1" in wait_line(proc.stdout, "initialised")
        tftp = wait_line(proc.stdout, f"{NODE}:", start="tftp@cucm1").split()[1]
        wait_line(proc.stdout, "serving cluster bench")
        host, port = tftp.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"\x00\x01absent.cnf.xml\x00octet\x00", (host, int(port)))
            assert client.recv(512)[:4] == b"\x00\x05\x00\x01"  # ERROR 1, file not found
        wait_line(proc.stdout, "tftp.rrq")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "tvs@cucm1" in out and "tftp@cucm1" in out and "stopped after 1 requests" in out


def test_serve_port_busy_is_one_line_and_exit_3(tmp_path: Path, twin: TwinRack) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((NODE, 0))
        busy = holder.getsockname()[1]
        spec = {**TOPOLOGY, "racks": [{**TOPOLOGY["racks"][0], "cluster": {  # type: ignore[dict-item]
            "ports": {"tftp": busy}, "nodes": [{"name": "cucm1", "address": NODE}]}}]}
        lab = tmp_path / "busy.yaml"
        lab.write_text(yaml.safe_dump(spec))
        result = phonelab("serve", "--lab", str(lab), "--pki", str(twin.workdir / "pki"))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{NODE}:{busy}" in lines[0] and "in use" in lines[0]


def test_mistakes_are_one_line_exit_2_and_a_dead_switch_exit_3(
        lab_file: Path, env: dict[str, str], switch: str, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{closed.getsockname()[1]}"  # nobody listens once closed
    lab = str(lab_file)
    no_env = {k: v for k, v in env.items() if not k.startswith("PHONELAB_SWITCH")}
    cases: list[tuple[list[str], dict[str, str], int, str]] = [
        (["power", "on", "SEP0000000000FF", "--lab", lab], env, 2, "no phone 'SEP0000000000FF'"),
        (["console", P1, "--lab", lab, "--rack", "nope"], env, 2,
         "no rack 'nope'; racks are bench"),
        (["power", "off", "--switch", "host:port:x", "--port", "Gi1/0/1"], env, 2, "bad --switch"),
        (["power", "off", "--switch", switch, "--port", "Gi1/0/1"], no_env, 2,
         "set PHONELAB_SWITCH_USER and PHONELAB_SWITCH_PASSWORD"),
        (["power", "off", P1, "--lab", lab], env, 2,
         f"no running twin has phone {P1} (none is running: `phonelab twin up`); start "
         f"`phonelab twin up --lab {lab}`"),
        (["console", P1, "--lab", lab], env, 2, "no running twin has phone"),
        (["capture", "-i", "nosuch0", "-o", str(tmp_path / "x.pcap")], env, 2,
         "no network interface 'nosuch0'"),
        (["serve", "--lab", str(tmp_path / "absent.yaml")], env, 2, "cannot read topology"),
        (["power", "cycle", "--switch", dead, "--port", "Gi1/0/1"], env, 3,
         f"lab error: switch {dead} unreachable"),
    ]
    began = time.monotonic()
    procs = [(start(*args, env=e), code, text) for args, e, code, text in cases]
    for proc, code, text in procs:
        _, err = proc.communicate(timeout=30)
        assert (proc.returncode, len(err.strip().splitlines())) == (code, 1), err
        assert text in err and "Traceback" not in err
    assert time.monotonic() - began < 20


def test_twin_up_prints_tables_without_the_switch_password(tmp_path: Path) -> None:
    proc = start("twin", "up", "--phones", "1", "--workdir", str(tmp_path / "twin"),
                 env={**{k: v for k, v in os.environ.items()
                         if not k.startswith("PHONELAB_SWITCH")},
                      "PHONELAB_RUN_DIR": str(tmp_path / "run")})
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("running;"):
                break
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        proc.kill()
    text = "".join(lines)
    assert "cluster endpoints" in text and "tftp@cucm1" in text
    assert "switch: ssh lab@127.0.0.1 -p " in text
    assert "'password'" not in text and "{'" not in text  # no dict reprs, no secret
