"""Real labgrid processes on loopback for the shared-lab tests: a coordinator, exporters,
and `labgrid-client` (the party we did not write) to set up places and check our work.

Every process gets a deadline and is stopped (then killed) by the fixture that started
it. The coordinator keeps its places in its working directory, a fresh tmp dir.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
STARTUP_S = 20.0


def labgrid_ready() -> str | None:
    """Why the labgrid tests cannot run here (None: they can)."""
    try:
        import labgrid  # noqa: F401
    except ImportError:
        return "labgrid is not installed (pip install -e '.[labgrid]')"
    if not (BIN / "labgrid-coordinator").exists():
        return "labgrid-coordinator is not installed next to this python"
    return None


def needs_ser2net() -> None:
    """ser2net is installed and can listen here.

    ser2net (gensio) resolves its listening address like AI_ADDRCONFIG: in a network
    namespace with nothing but loopback (scripts/isolated's) it finds no address and
    serves nothing. In such a namespace, made for the test run and gone with it, a veth
    pair with a 198.18.0.0/15 address (the range tests may use in namespaces) gives it
    one; on a host with real interfaces nothing is touched.
    """
    if not (shutil.which("ser2net") or Path("/usr/sbin/ser2net").exists()):
        pytest.skip("ser2net is not installed (scripts/setup.sh installs it)")
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           timeout=10).stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ":" in line}
    if names - {"lo"}:
        return  # real interfaces (a host, a container) or our veth pair from an earlier test
    steps = [["ip", "link", "add", "phonelab-lg0", "type", "veth", "peer", "name", "phonelab-lg1"],
             ["ip", "addr", "add", "198.18.214.1/32", "dev", "phonelab-lg0"],
             ["ip", "link", "set", "phonelab-lg0", "up"],
             ["ip", "link", "set", "phonelab-lg1", "up"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=10)
        if done.returncode != 0 and "File exists" not in done.stderr:
            pytest.skip(f"ser2net cannot listen in this loopback-only namespace and "
                        f"`{' '.join(step)}` failed: {done.stderr.strip()}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_port(host: str, port: int, bound: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port} after {bound:g} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Coordinator:
    address: str
    workdir: Path

    def client(self, *args: str, check: bool = True, timeout: float = 30.0,
               user: str | None = None) -> subprocess.CompletedProcess[str]:
        """`labgrid-client -x ADDRESS ARGS`, as another user when `user` is given."""
        env = {**os.environ, "LG_COORDINATOR": self.address}
        if user:
            env["LG_USERNAME"] = user
        done = subprocess.run([str(BIN / "labgrid-client"), "-x", self.address, *args],
                              capture_output=True, text=True, timeout=timeout, env=env)
        if check and done.returncode != 0:
            raise AssertionError(f"labgrid-client {' '.join(args)} failed "
                                 f"({done.returncode}): {done.stdout}{done.stderr}")
        return done


@contextmanager
def coordinator(workdir: Path) -> Iterator[Coordinator]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "coordinator.log").open("wb")
    proc = subprocess.Popen([str(BIN / "labgrid-coordinator"), "-l", f"127.0.0.1:{port}"],
                            cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port("127.0.0.1", port, STARTUP_S, proc)
        yield Coordinator(f"127.0.0.1:{port}", workdir)
    finally:
        stop(proc)
        log.close()


@contextmanager
def exporter(coord: Coordinator, name: str, config: str) -> Iterator[subprocess.Popen[bytes]]:
    """A labgrid-exporter publishing `config` (YAML) on loopback addresses."""
    path = coord.workdir / f"exporter-{name}.yaml"
    path.write_text(config)
    log = (coord.workdir / f"exporter-{name}.log").open("wb")
    proc = subprocess.Popen([str(BIN / "labgrid-exporter"), "-c", coord.address, "-n", name,
                             "--hostname", "127.0.0.1", str(path)],
                            cwd=coord.workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop(proc)
        log.close()


def wait_resources(coord: Coordinator, exporter_name: str, count: int, bound: float = 20.0
                   ) -> str:
    """`labgrid-client resources` once `count` resources of the exporter are listed."""
    deadline = time.monotonic() + bound
    listed = ""
    while time.monotonic() < deadline:
        listed = coord.client("resources", check=False).stdout
        if sum(line.startswith(f"{exporter_name}/") for line in listed.splitlines()) >= count:
            return listed
        time.sleep(0.3)
    raise AssertionError(f"exporter {exporter_name} published {listed!r}, not {count} "
                         f"resources, within {bound:g} s; log: "
                         f"{(coord.workdir / f'exporter-{exporter_name}.log').read_text()}")
