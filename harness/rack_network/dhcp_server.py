"""`DhcpServer`: dnsmasq serving one rack's phones, started and stopped like an endpoint.

The process runs in the foreground as our child, so stopping `phonelab serve`
(Ctrl-C, SIGTERM, an error) stops it; a dnsmasq left by a serve that was killed
outright is found through its pid file and stopped before the next start (it
holds port 67, so nothing else could start anyway). Every way dnsmasq can fail
to start (binary missing, interface missing, no privileges, port 67 taken) ends
as one `LabError` saying what to do. While it runs, its log is followed and
DISCOVER/REQUEST/ACK/NAK become `dhcp.*` events keyed by the phone whose MAC it
is (with the option 60 vendor class the phone sent, docs/HARDWARE.md §1.1), and
each ACK binds the address to the phone so later endpoint events name it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from harness.errors import LabError
from harness.events import EventLog
from harness.rack_network.dnsmasq_config import RunFiles, dnsmasq_argv, dnsmasq_config, rack_dhcp
from harness.services.base import Endpoint
from lab_topology.dhcp import phone_mac
from lab_topology.schema import RackSpec

DNSMASQ = "/usr/sbin/dnsmasq"
_READY = "DHCP, IP range"
_VENDOR = re.compile(r"\]: (?P<xid>\d+) vendor class: (?P<vendor>.*)$")
_LINE = re.compile(r"(?:\]: (?P<xid>\d+) )?"
                   r"DHCP(?P<kind>DISCOVER|REQUEST|ACK|NAK|DECLINE|RELEASE|INFORM)"
                   r"\((?P<iface>[^)]*)\) (?:(?P<ip>\d+\.\d+\.\d+\.\d+) )?"
                   r"(?P<mac>[0-9a-f]{2}(?::[0-9a-f]{2}){5})(?: (?P<rest>.*))?")


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class DhcpServer(Endpoint):
    """dnsmasq for `rack` (which has a `dhcp:` section), its files in `run_dir`."""

    name = "dhcp"

    def __init__(self, rack: RackSpec, run_dir: Path, events: EventLog, *,
                 binary: str | None = None, netns: str | None = None,
                 start_timeout: float = 5.0, stop_timeout: float = 5.0) -> None:
        dhcp = rack_dhcp(rack)
        super().__init__(events, host=dhcp.interface, port=67)
        self.rack, self.files, self.netns = rack, RunFiles(run_dir), netns
        self.binary = binary
        self.source = f"dhcp@{dhcp.interface}"
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.phones = {phone_mac(p.name): p.name for p in rack.phones}
        self._proc: subprocess.Popen[bytes] | None = None
        self._follow: threading.Thread | None = None
        self._halt = threading.Event()
        self._vendor: dict[str, str] = {}  # transaction id → option 60, logged before its line

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        if self.running:
            return
        binary = self.binary or shutil.which("dnsmasq") or DNSMASQ
        if not Path(binary).is_file():
            raise LabError(f"DHCP for rack {self.rack.name}: dnsmasq is not installed "
                           "(apt-get install dnsmasq-base; scripts/setup.sh does it)")
        self.files.directory.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        self.files.config.write_text(dnsmasq_config(self.rack, self.files))
        offset = self.files.log.stat().st_size if self.files.log.exists() else 0
        argv = dnsmasq_argv(binary, self.files)
        if self.netns is not None:
            argv = [shutil.which("ip") or "/usr/sbin/ip", "netns", "exec", self.netns, *argv]
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait_ready(offset)
        except BaseException:
            self.stop()
            raise
        self._bind((self.host, 67))
        self._halt.clear()
        self._follow = threading.Thread(target=self._follow_log, args=(offset,),
                                        name=f"{self.source}-log", daemon=True)
        self._follow.start()

    def _wait_ready(self, offset: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                assert self._proc.stderr is not None
                raise LabError(self._explain(self._proc.stderr.read().decode(errors="replace")))
            if _READY in self._log_since(offset):
                return
            time.sleep(0.05)
        raise LabError(f"DHCP for rack {self.rack.name}: dnsmasq did not report ready within "
                       f"{self.start_timeout:g} s (see {self.files.log})")

    def _log_since(self, offset: int) -> str:
        try:
            with self.files.log.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _explain(self, stderr: str) -> str:
        """dnsmasq's own complaint plus what to do about it, in one line."""
        said = " ".join(stderr.replace("dnsmasq: ", "").split()) or "exited at once"
        where = f"DHCP for rack {self.rack.name} on {self.host}: dnsmasq: {said}"
        if "unknown interface" in said:
            return (f"{where} (dhcp.interface names no interface of this host; `ip link` "
                    "lists them, `phonelab lab prepare` checks the rack)")
        if "Permission denied" in said or "Operation not permitted" in said:
            return f"{where} (DHCP needs root: port 67 and raw sockets)"
        if "in use" in said:
            return f"{where} (another DHCP server holds port 67 on this host)"
        return where

    def _stop_leftover(self) -> None:
        """Stop a dnsmasq that a killed earlier run of this very configuration left behind."""
        try:
            pid = int(self.files.pid.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if f"--conf-file={self.files.config}".encode() not in cmdline:
            return  # the pid was reused by something else
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.events.record("dhcp.leftover_stopped", source=self.source, pid=pid)

    def _follow_log(self, offset: int) -> None:
        """Turn the log's DHCP lines into events until stop()."""
        pending, stopped = "", False
        while not stopped:
            stopped = self._halt.wait(0.1)  # one last read after stop(): nothing is lost
            text = self._log_since(offset)
            offset += len(text.encode())
            pending += text
            *lines, pending = pending.split("\n")
            for line in lines:
                self._record(line)

    def _record(self, line: str) -> None:
        vendor = _VENDOR.search(line)
        if vendor is not None:
            self._vendor[vendor["xid"]] = vendor["vendor"].strip()
            while len(self._vendor) > 256:  # bounded: transactions end, ids are not reused
                del self._vendor[next(iter(self._vendor))]
            return
        match = _LINE.search(line)
        if match is None:
            return
        mac, ip = match["mac"], match["ip"]
        phone = self.phones.get(mac)
        if match["kind"] == "ACK" and phone is not None and ip is not None:
            self.events.bind_address(ip, phone)
        data: dict[str, str] = {"mac": mac}
        if match["rest"]:
            data["note"] = match["rest"].strip()
        if match["xid"] in self._vendor:  # option 60: "Cisco Systems, Inc. IP Phone CP-7962G"
            data["vendor_class"] = self._vendor[match["xid"]]
        self.events.record(f"dhcp.{match['kind'].lower()}", source=self.source, phone=phone,
                           address=ip, **data)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        self._halt.set()
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(self.stop_timeout)
            if proc.stderr is not None:
                proc.stderr.close()
        if self._follow is not None:
            self._follow.join(2.0)
            self._follow = None
