"""A twin phone: firmware + sockets + console + power, living on the twin's event loop.

It is what the fake switch powers (`power_on`/`power_off`), what the registrar
resets (SIP NOTIFY, SCCP Reset), and what the console driver talks to (a real pty). Each
boot is a task on the twin's loop; power loss cancels it. Everything it does
goes to the event timeline keyed by its device name, so tests observe it the
same way they observe a real phone through the endpoints.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509

from harness.events import EventLog
from harness.firmware.names import factory_load
from harness.formats.errors import FormatError
from harness.formats.roles import Role
from harness.phone_models import PhoneModel
from harness.tls import client_context
from phone_drivers.emulator import console_lines as lines
from phone_drivers.emulator.boot import BootSequence
from phone_drivers.emulator.boot_load import update_load
from phone_drivers.emulator.config_facts import CallManager, ConfigFacts
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import Decision, Outcome
from phone_drivers.emulator.menu import MenuModel
from phone_drivers.emulator.phone_console import ConsoleCommands
from phone_drivers.emulator.phone_web import PhoneWebServer
from phone_drivers.emulator.profiles import TimingProfile
from phone_drivers.emulator.sccp_client import SccpRegistrationError, SccpStation, StationInfo
from phone_drivers.emulator.sip_client import SipAgent, SipLine, SipRegistrationError
from phone_drivers.emulator.tftp_client import TftpOptions
from phone_drivers.emulator.trust_state import PhoneIdentity, PhoneOptions
from phone_drivers.emulator.tty import PhoneTty

if TYPE_CHECKING:  # imported when a twin has SSH: asyncssh costs ~13 MB in every process
    from phone_drivers.emulator.phone_ssh import PhoneSsh


class TwinPhone(ConsoleCommands):
    """One emulated phone. Thread-safe entry points: power_on/off, reset, restart."""

    def __init__(self, identity: PhoneIdentity, *, address: str,
                 tftp_servers: Sequence[tuple[str, int]], events: EventLog,
                 loop: asyncio.AbstractEventLoop, profile: TimingProfile,
                 protocol: str = "SIP", console: bool = True, ssh: bool = False,
                 options: PhoneOptions | None = None) -> None:
        self.firmware = Firmware(identity, options)
        self.model_info: PhoneModel = identity.capabilities
        self.name, self.mac, self.address = identity.name, identity.mac, address
        self.tftp_servers = list(tftp_servers)
        self.events, self.loop, self.profile, self.protocol = events, loop, profile, protocol
        self.tftp_options = TftpOptions(timeout=profile.tftp_timeout, retries=3)
        self.pid = 200 + int(self.mac[-2:], 16)
        self.powered = False
        self.registered_to: tuple[str, int] | None = None
        self.running_load = factory_load(self.model_info.model, protocol)  # kept in "flash"
        family = self.model_info.family
        self.tty = PhoneTty(family, on_command=self._on_console) if console else None
        self.web: PhoneWebServer | None = None  # start_web(): /CGI/Execute etc.
        self.ssh: PhoneSsh | None = None  # SSH access (88xx log), docs/HARDWARE.md §2.3
        if ssh and self.tty is not None:  # construct off the loop thread: this waits for it
            from phone_drivers.emulator.phone_ssh import PhoneSsh, config_login

            self.ssh = PhoneSsh(self.name, address, loop, typed=self.tty.typed, login=lambda: (
                config_login(self.firmware.state.last_config) if self.powered else None))
            self.tty.on_line = self.ssh.publish
            asyncio.run_coroutine_threadsafe(self.ssh.start(), loop).result(10)
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._sip: SipAgent | None = None
        self.boot_kind = "power"  # what the next first REGISTER reports (cisco-alarm)
        self._sccp: SccpStation | None = None
        events.bind_address(address, self.name)

    @functools.cached_property
    def menu(self) -> MenuModel:  # type: ignore[override]
        """Key-press state, made at the first press: most twins (a storm's) never get one."""
        return MenuModel(self.model_info.family)

    # --- what the switch reads (PoweredDevice) -----------------------------
    @property
    def platform(self) -> str:
        return self.model_info.platform

    @property
    def power_watts(self) -> float:
        return 6.3 if self.powered else 0.0

    @property
    def software_version(self) -> str:
        """The running load id, e.g. `SIP42.9-4-2SR3-1S` (docs/REAL_WIRE.md §5.4)."""
        return self.running_load

    @property
    def console_path(self) -> str | None:
        return self.tty.path if self.tty else None

    @property
    def web_url(self) -> str | None:
        """`http://<address>[:port]` of the phone's web server, once started."""
        return self.web.base_url if self.web else None

    @property
    def ssh_port(self) -> int | None:
        return self.ssh.port if self.ssh else None

    # --- thread-safe controls ---------------------------------------------
    def start_web(self) -> None:
        """Open the phone's HTTP interface on its address (docs/REAL_WIRE.md §6)."""
        if self.web is None:
            web = PhoneWebServer(self)
            asyncio.run_coroutine_threadsafe(web.start(), self.loop).result(5)
            self.web = web

    def power_on(self) -> None:
        self.loop.call_soon_threadsafe(self._boot, "power")

    def power_off(self) -> None:
        self.loop.call_soon_threadsafe(self._power_off)

    def reset(self) -> None:
        self.loop.call_soon_threadsafe(self._boot, "reset")

    def restart(self) -> None:
        self.loop.call_soon_threadsafe(self._boot, "restart")

    def close(self) -> None:
        """Power off for good and release the console pty."""
        if not self.loop.is_closed():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
            future.result(5)
        if self.tty is not None:
            self.tty.close()

    # --- on the loop ---------------------------------------------------------
    def _boot(self, kind: str) -> None:
        if kind != "power" and not self.powered:
            return
        self._cancel()
        if self.ssh is not None:
            self.ssh.drop()  # a reboot takes the network (and SSH sessions) down
        if kind == "power":
            self.powered = True
            self.record("phone.power", state="on")
        now = time.time()
        {"power": self.firmware.reset, "reset": self.firmware.reset,
         "restart": self.firmware.restart}[kind](now=now)
        self._task = self.loop.create_task(self._run(kind), name=f"{self.name} boot")

    def _power_off(self) -> None:
        if not self.powered:
            return
        self._cancel()
        if self.ssh is not None:
            self.ssh.drop()
        self.powered = False
        self.registered_to = None
        self.record("phone.power", state="off")

    async def _shutdown(self) -> None:
        self._power_off()
        if self.web is not None:
            await self.web.stop()
        if self.ssh is not None:
            await self.ssh.close()

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        if self._sip is not None:
            self._sip.close()
            self._sip = None
        if self._sccp is not None:
            self._sccp.close()
            self._sccp = None

    async def _run(self, kind: str) -> None:
        self.boot_kind = kind
        self.record("phone.boot", kind=kind)
        family = self.model_info.family
        self.emit(lines.power_up(family, self.model_info.model, self.software_version))
        if kind == "power":
            await asyncio.sleep(self.profile.power_to_link)
            self.emit(lines.dhcp_discover(family))
            await asyncio.sleep(self.profile.link_to_dhcp)
            self.emit(lines.dhcp_bound(family, self.address), lines.tftp_server(family))
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1 and self._sip is not None:  # each retry registers afresh
                self._sip.close()
                self._sip = None
            sequence = BootSequence(self)
            await sequence.trust_lists()
            outcome = await sequence.config()
            if outcome == "accepted" and await sequence.capf():
                outcome = await sequence.config()
            if self.firmware.state.last_config is not None:
                load = await update_load(sequence)
                if load is not None and load.switched:  # reboot into it, then boot again
                    self._reboot_into(load.wanted)
                    continue
                await sequence.https()
                await asyncio.sleep(self.profile.before_register)
                registered = await sequence.register()
            else:
                registered = False
            if registered and outcome != "missing":
                self.record("phone.ready", config=outcome, attempt=attempt)
                return
            self.record("phone.retry", attempt=attempt, config=outcome, registered=registered)
            await asyncio.sleep(self.profile.config_retry)

    def _reboot_into(self, load: str) -> None:
        """The new load is in flash: reboot (RAM gone, flash kept) running it."""
        self.running_load = load
        self.firmware.reset(now=time.time())
        self.record("phone.boot", kind="load")
        self.emit(lines.power_up(self.model_info.family, self.model_info.model, load))

    async def sip_register(self, manager: CallManager) -> tuple[int, tuple[str, int]]:
        """Register with one CallManager the way the config says (docs/REAL_WIRE.md §1.1):
        (final status or 0 when unreachable, the server tried)."""
        state = self.firmware.state
        transport, server = sip_route(state.config, manager,
                                      secure_ready=state.ctl is not None
                                      and state.client_identity is not None)
        if self._sip is None or self._sip.transport != transport:
            if self._sip is not None:
                self._sip.close()
            self._sip = SipAgent(
                self.name, self.address, self._on_sip_action, model=self.model_info,
                load=self.software_version, transport=transport,
                lines=[SipLine(line.dn, line.contact) for line in state.config.lines],
                identity=state.client_identity, boot=self.boot_kind)
        try:
            status = await self._sip.register(server)
        except SipRegistrationError as exc:
            self.record("phone.sip_error", server=f"{server[0]}:{server[1]}",
                        transport=transport, reason=str(exc))
            return 0, server
        self.registered_to = server if status == 200 else None
        return status, server

    async def sccp_register(self, server: tuple[str, int], *, secure: bool) -> tuple[bool, str]:
        """Register over SCCP (TLS with the LSC, else MIC, when `secure`); (ok, why not)."""
        if self._sccp is not None:
            self._sccp.close()
        info = StationInfo(self.name, self.mac, self.address, self.model_info.device_type,
                           self.software_version, last=self.boot_kind)
        self._sccp = station = SccpStation(info, self._boot, self.record,
                                           keepalive_scale=self.profile.keepalive_scale,
                                           timeout=self.profile.tvs_timeout)
        context = client_context(self.firmware.state.client_identity) if secure else None
        try:
            outcome = await station.register(server, context,
                                             self.callmanager_trusted if secure else None)
        except SccpRegistrationError as exc:
            return False, str(exc)
        self.registered_to = server if outcome.registered else None
        return outcome.registered, outcome.text

    async def _capf_now(self) -> None:
        """The CAPF string was typed: run the session, then the config phase again."""
        sequence = BootSequence(self)
        if await sequence.capf():
            await sequence.config()

    def _on_sip_action(self, action: str) -> None:
        self.record("phone.notify", action=action)
        self._boot(action)

    # --- trust helpers for the boot sequence ---------------------------------
    def callmanager_trusted(self, der: bytes) -> bool:
        """Signalling over TLS: the CallManager certificate must be a CCM (or CCM+TFTP)
        record of the CTL or ITL."""
        return self._listed(der, {Role.CCM, Role.CCM_TFTP})

    def capf_server_trusted(self, der: bytes) -> bool:
        """§6.1: the CAPF certificate must be a CAPF record of the CTL or ITL."""
        return self._listed(der, {Role.CAPF})

    def _listed(self, der: bytes, roles: set[int]) -> bool:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return False
        state = self.firmware.state
        return any(r.role in roles and r.matches(cert)
                   for lst in (state.ctl, state.itl) if lst is not None for r in lst.records)

    # --- reporting -------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    def record(self, kind: str, /, **data: Any) -> None:
        self.events.record(kind, source=self.name, phone=self.name, **data)

    def emit(self, *items: lines.Line | list[lines.Line]) -> None:
        if self.tty is not None:
            self.tty.emit(*items)

    def report(self, subject: str, decision: Decision) -> None:
        """A firmware decision → timeline event and the matching console line."""
        self.record(f"phone.{subject}", name=decision.name, outcome=decision.outcome.value,
                    reason=decision.reason, basis=decision.basis)
        family, name = self.model_info.family, decision.name or subject
        if subject in ("ctl", "itl") and decision.outcome is Outcome.ACCEPTED:
            self.emit(lines.trust_list_accepted(family))
        elif subject in ("ctl", "itl") and decision.outcome is Outcome.REJECTED:
            self.emit(lines.trust_list_failed(family, name))
            if self.firmware.is_stranded:
                self.emit(lines.stranded(family))
        elif subject == "config" and decision.outcome is Outcome.ACCEPTED:
            self.emit(lines.config_accepted(family, name))
        elif subject == "config" and decision.outcome is Outcome.REJECTED:
            self.emit(lines.config_rejected(family, name))
            if decision.capf_needed:
                self.emit(lines.encrypted_config_unusable(family, name, decision.capf_needed))

    # --- observation (§7.12) ---------------------------------------------------
    def observe(self) -> dict[str, Any]:
        state = self.firmware.state
        itl_signer = _signer_serial(state.itl)
        return {
            "name": self.name, "powered": self.powered,
            "registered": self.registered_to is not None,
            "itl_digest": state.itl.digest if state.itl else None,
            "itl_signer_serial": itl_signer,
            "itl_rollback": bool(state.itl and state.itl.is_rollback),
            "ctl_digest": state.ctl.digest if state.ctl else None,
            "lsc_serial": f"{state.lsc.serial:x}" if state.lsc else None,
            "config_rejected": state.config_rejected,
            "trust_list_update_failed": state.trust_list_update_failed,
            "stranded": self.firmware.is_stranded, "capf_result": state.capf_result,
            "has_config": state.last_config is not None, "load": self.running_load,
        }


def sip_route(config: ConfigFacts, manager: CallManager, *,
              secure_ready: bool) -> tuple[str, tuple[str, int]]:
    """(transport, server): TLS to securedSipPort for deviceSecurityMode 2/3 or
    transportLayerProtocol 3, UDP for 2, else TCP (§1.1). A phone without a CTL or
    without a certificate to present cannot do TLS and stays on TCP [I]."""
    secure = config.security_mode in (2, 3) or config.transport == 3
    if secure and secure_ready:
        return "tls", (manager.address, manager.secured_sip_port)
    if config.transport == 2:
        return "udp", (manager.address, manager.sip_port)
    return "tcp", (manager.address, manager.sip_port)


def _signer_serial(trust: Any) -> str | None:
    if trust is None:
        return None
    try:
        return f"{trust.header.signer.serial:x}"
    except (AttributeError, FormatError):
        return None
