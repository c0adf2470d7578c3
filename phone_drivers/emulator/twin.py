"""The digital twin of one rack: the cluster's endpoints, a fake switch, software phones.

Everything is reached through the same wires as hardware (docs/ARCHITECTURE.md
principle 1): phones boot over real TFTP/TLS/SIP on their own loopback
addresses, their consoles are real ptys (88xx: also SSH access, the console a
topology `ssh://` entry gets), and their power follows the fake switch's PoE
ports, which netmiko drives over SSH.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from harness.aio import BackgroundLoop
from harness.cluster.cluster import Cluster
from harness.cluster.from_spec import cluster_ports, cluster_state
from harness.cluster.state import Service
from harness.events import EventLog
from harness.phone_models import Family, lookup
from harness.pki import LabPKI
from lab_topology import LabSpec, PhoneSpec, RackSpec, phone_address
from phone_drivers.console_ssh import SshTarget
from phone_drivers.emulator.phone import TwinPhone
from phone_drivers.emulator.profiles import profile as timing
from phone_drivers.emulator.switch import FakeSwitch, make_ports
from phone_drivers.emulator.trust_state import PhoneIdentity
from phone_drivers.poe import SwitchConnection
from phone_drivers.wiring import CgiLogin, Wiring


class TwinRack:
    """One emulated rack; `start()` brings it up, `stop()` tears everything down."""

    def __init__(self, lab: LabSpec, rack: RackSpec, workdir: Path, *, profile: str = "fast",
                 pki_template: Path | None = None, consoles: bool = True,
                 mics: bool = True, events: EventLog | None = None,
                 powered: bool = True,
                 tftp_servers: list[tuple[str, int]] | None = None) -> None:
        self.lab, self.spec, self.workdir = lab, rack, workdir
        self.events = events if events is not None else EventLog()
        self.loop = BackgroundLoop(f"twin-{rack.name}")
        pki_root = workdir / "pki"
        if pki_template is not None and not pki_root.exists():
            shutil.copytree(pki_template, pki_root)
        self.pki = (LabPKI.load(pki_root) if pki_root.exists()
                    else LabPKI.init(pki_root, [n.name for n in rack.cluster.nodes],
                                     addresses={n.name: str(n.address)
                                                for n in rack.cluster.nodes}))
        # phones whose topology console is ssh://: the twin's own SSH user per phone, which
        # the cluster writes into their configs (hardware: from the environment)
        self.ssh_logins = {p.name: ("lab", secrets.token_urlsafe(12)) for p in rack.phones
                           if p.console is not None and p.console.is_ssh}
        self.cluster = Cluster(cluster_state(rack, self.ssh_logins), self.pki, events=self.events,
                               ports=cluster_ports(rack), loop=self.loop, name=rack.name)
        self.switches = {s.name: FakeSwitch(
            ports=make_ports(max(8, len(rack.phones))), hostname=f"{rack.name}-{s.name}",
            username="lab", password=secrets.token_urlsafe(12), loop=self.loop,
            events=self.events) for s in rack.switches}
        self.phones: dict[str, TwinPhone] = {}
        self._profile, self._consoles, self._mics = timing(profile), consoles, mics
        self._powered = powered  # False: ports start at `power inline never`
        # Given: phones use that TFTP (DHCP option 150) and the twin serves no cluster of
        # its own: "rack hardware" for a harness cluster started elsewhere.
        self._external_tftp = tftp_servers
        # The lab's CGI user (docs/REAL_WIRE.md §6.2): generated, as the switch password is.
        self.cgi = CgiLogin("phonelab", SecretStr(secrets.token_urlsafe(12)))

    def start(self, progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> bool:
        """Start the cluster, the phones and the switches; False if `cancelled` said so
        before every phone was made (a large twin takes a while: Ctrl-C must not wait).
        `progress(done, total)` hears of each phone made."""
        tftp = self._external_tftp
        if tftp is None:
            self.cluster.start()
            self.cluster.allow_cgi_user(self.cgi.user, self.cgi.password.get_secret_value())
            tftp = [self.cluster.tftp_address(n.name)
                    for n in self.cluster.state.nodes_running(Service.TFTP)]
        total = len(self.spec.phones)
        for done, spec in enumerate(self.spec.phones):
            if cancelled is not None and cancelled():
                return False
            if progress is not None:
                progress(done, total)
            mic = self.pki.issue_mic(spec.name, spec.model) if self._mics else None
            phone = TwinPhone(PhoneIdentity(spec.name[3:], spec.model, mic),
                              address=str(phone_address(self.lab, self.spec, spec)),
                              tftp_servers=tftp, events=self.events, loop=self.loop.loop,
                              profile=self._profile, protocol=spec.protocol,
                              console=self._consoles, ssh=spec.name in self.ssh_logins
                              or lookup(spec.model).family is Family.C88XX)
            self.phones[spec.name] = phone
            phone.start_web()
        for switch in self.switches.values():
            switch.start()
        for spec in self.spec.phones:  # plugging in powers the phone (PoE auto)
            switch = self.switches[spec.switch]
            if not self._powered:
                port = switch.find_port(spec.port)
                assert port is not None, f"{spec.port} missing on {spec.switch}"
                switch.configure(port, admin_poe="never")
            switch.attach(spec.port, self.phones[spec.name])
        if progress is not None:
            progress(total, total)
        return True

    def stop(self) -> None:
        for switch in self.switches.values():
            switch.close()
        for phone in self.phones.values():
            phone.close()
        self.cluster.stop()
        self.loop.close()

    def __enter__(self) -> TwinRack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wiring(self) -> Wiring:
        """The twin's coordinates in the form hardware racks give them (same drivers)."""
        return Wiring(
            switches={name: SwitchConnection(host=s.host, port=s.port, username=s.username,
                                             password=SecretStr(s.password), timeout=10)
                      for name, s in self.switches.items()},
            consoles={name: (p.console_path, 9600) for name, p in self.phones.items()
                      if p.console_path and name not in self.ssh_logins},
            addresses={name: p.address for name, p in self.phones.items()},
            web={name: p.web_url for name, p in self.phones.items() if p.web_url},
            cgi=self.cgi, key_pause=self._profile.key_pause,
            ssh_consoles={spec.name: self._ssh_target(spec) for spec in self.spec.phones
                          if spec.name in self.ssh_logins and self.phones[spec.name].ssh_port},
        )

    def _ssh_target(self, spec: PhoneSpec) -> SshTarget:
        assert spec.console is not None
        phone, (user, password) = self.phones[spec.name], self.ssh_logins[spec.name]
        return SshTarget(phone.address, phone.ssh_port or 0, user, SecretStr(password),
                         spec.console.ssh_shell, reconnect_attempts=1200, reconnect_interval=0.1)

    def describe(self) -> dict[str, Any]:
        """Where everything is: what `phonelab twin up --json` prints first."""
        switch_spec = self.spec.switches[0]
        switch = self.switches[switch_spec.name]
        return {
            "rack": self.spec.name,
            "switch": {"host": switch.host, "port": switch.port, "username": switch.username,
                       "password": switch.password, "device_type": switch.device_type},
            "cgi": {"username": self.cgi.user,
                    "password": self.cgi.password.get_secret_value()},
            "switches": {name: {"host": s.host, "port": s.port} for name, s in
                         self.switches.items()},
            "cluster": {f"{service.value}@{node}": f"{e.address[0]}:{e.address[1]}"
                        for (service, node), e in self.cluster.plane.endpoints.items()
                        if e.running},
            "phones": [{"name": p.name, "mac": p.name[3:], "model": p.model,
                        "address": str(phone_address(self.lab, self.spec, p)),
                        "console": self.phones[p.name].console_path,
                        "web": self.phones[p.name].web_url,
                        "ssh": self.phones[p.name].ssh_port,  # SSH access (88xx log)
                        "ssh_login": self.ssh_logins.get(p.name),  # in its config, if any
                        "switch": p.switch, "switch_port": p.port}
                       for p in self.spec.phones],
        }
