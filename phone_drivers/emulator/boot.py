"""One boot of a twin phone over real sockets: trust lists, config, CAPF, HTTPS, register.

Runs the request order of docs/PROTOCOLS.md §7.2 and hands every byte to the pure
firmware, answering its `TvsNeeded` questions with real TLS exchanges to the
`<TVS>` members of its config. Nothing here decides trust; it only moves bytes
and tells the timeline and the console what happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.services.capf_client import CapfClient, CapfUnavailable
from harness.services.tvs_client import TvsClient, TvsResult, TvsServer, TvsUnavailable
from phone_drivers.emulator import console_lines as lines
from phone_drivers.emulator import https_probe, sccp_client, tftp_client
from phone_drivers.emulator.firmware_types import (
    Decision,
    TvsAnswer,
    TvsKind,
    TvsNeeded,
    TvsReply,
    TvsStatus,
)
from phone_drivers.emulator.firmware_types import TvsUnavailable as NoTvs

if TYPE_CHECKING:
    from phone_drivers.emulator.phone import TwinPhone

Ask = Callable[[TvsReply | None], Decision | TvsNeeded]


class BootSequence:
    """The network half of one boot; `phone` supplies firmware, console and timeline."""

    def __init__(self, phone: TwinPhone) -> None:
        self.phone = phone
        self.fw = phone.firmware
        self.family = phone.model_info.family

    # --- helpers ------------------------------------------------------------
    async def fetch(self, name: str) -> bytes | None:
        """One file over TFTP from the first server that answers; None if not found."""
        phone = self.phone
        for server in phone.tftp_servers:
            transfer = phone.next_id()
            phone.emit(lines.fetch_start(self.family, name, pid=phone.pid, transfer=transfer))
            try:
                data = await tftp_client.fetch(server, name, local_host=phone.address,
                                               options=phone.tftp_options)
            except tftp_client.TftpError as exc:
                if exc.code == 1:
                    return None
                phone.record("phone.tftp_error", file=name, code=exc.code)
                return None
            except tftp_client.TftpTimeout:
                phone.record("phone.tftp_timeout", file=name, server=f"{server[0]}:{server[1]}")
                continue
            phone.emit(lines.fetch_done(self.family, server[0], pid=phone.pid))
            await asyncio.sleep(phone.profile.per_file)
            return data
        return None

    async def decide(self, ask: Ask) -> Decision:
        """Call the firmware, answering TVS questions until it decides."""
        result = ask(None)
        while isinstance(result, TvsNeeded):
            result = ask(await self.ask_tvs(result))
        return result

    async def ask_tvs(self, needed: TvsNeeded) -> TvsReply:
        phone = self.phone
        servers = [TvsServer(m.address, m.port, m.priority) for m in needed.servers]
        client = TvsClient(servers, self.fw.server_cert_trusted_for_tvs,
                           timeout=phone.profile.tvs_timeout, local_host=phone.address)
        device = self.fw.state.identity.tvs_device_name
        phone.emit(lines.tvs_connect(self.family, servers[0].host, servers[0].port))
        try:
            result = await put_to_tvs(client, needed, device)
        except TvsUnavailable as exc:
            phone.record("phone.tvs", kind=needed.kind.value, result="unavailable",
                         reason=str(exc))
            return NoTvs(str(exc))
        phone.emit(lines.tls_ok(self.family))
        if needed.kind is TvsKind.QUERY:
            phone.emit(lines.tvs_query(self.family))
        status = TvsStatus.OK if result.valid else TvsStatus.INVALID
        phone.record("phone.tvs", kind=needed.kind.value, result=status.value,
                     roles=sorted(result.roles), cached=result.from_cache)
        return TvsAnswer(status, tuple(result.roles), result.certificate, result.ttl or 0)

    # --- the phases -----------------------------------------------------------
    async def trust_lists(self) -> None:
        for step in self.fw.trust_list_requests():
            for name in step.names:
                data = await self.fetch(name)
                if data is None:
                    decision = self.fw.not_found(name, now=time.time())
                else:
                    decision = await self.decide(self._trust_ask(step.kind, name, data))
                self.phone.report(step.kind, decision)
                if data is not None or not decision.try_next:
                    break

    def _trust_ask(self, kind: str, name: str, data: bytes) -> Ask:
        accept = self.fw.accept_ctl if kind == "ctl" else self.fw.accept_itl

        def ask(tvs: TvsReply | None) -> Decision | TvsNeeded:
            return accept(data, tvs, name=name, now=time.time())
        return ask

    def _config_ask(self, name: str, data: bytes) -> Ask:
        def ask(tvs: TvsReply | None) -> Decision | TvsNeeded:
            return self.fw.accept_config(name, data, tvs, now=time.time())
        return ask

    async def config(self) -> str:
        """The config phase: "accepted", "rejected" (last config kept) or "missing"."""
        step = self.fw.config_requests()
        names = list(step.names)
        while names:
            name = names.pop(0)
            data = await self.fetch(name)
            if data is None:
                decision = self.fw.not_found(name, now=time.time())
            else:
                decision = await self.decide(self._config_ask(name, data))
            self.phone.report("config", decision)
            if decision.fetch_next:
                names.insert(0, decision.fetch_next)
                continue
            if decision.capf_needed:
                return await self.config() if await self.capf() else "rejected"
            if decision.ok and data is not None:
                return "accepted"
            if not decision.try_next:
                return "missing" if data is None else "rejected"
        return "missing"

    async def capf(self) -> bool:
        """Run the CAPF session the firmware asks for; True if the LSC changed."""
        action = self.fw.capf_action()
        if not action.connect:
            if self.fw.state.capf_needed or "waiting" in action.reason:
                self.phone.record("phone.capf", outcome="waiting", reason=action.reason)
            return False
        phone, state = self.phone, self.fw.state
        client = CapfClient(
            state.identity.name, [(s.address, s.port) for s in action.servers],
            phone.capf_server_trusted, password=action.password or None, lsc=state.lsc,
            mic=state.identity.mic, timeout=phone.profile.tvs_timeout, local_host=phone.address)
        try:
            result = await client.run()
        except CapfUnavailable as exc:
            phone.report("capf", self.fw.capf_failed(str(exc), now=time.time()))
            return False
        if result.lsc is not None:
            phone.report("capf", self.fw.install_lsc(result.lsc.cert, result.lsc.key,
                                                     now=time.time()))
            return True
        if result.deleted:
            phone.report("capf", self.fw.delete_lsc(now=time.time()))
            return True
        if result.reason not in (0, 1):
            phone.report("capf", self.fw.capf_failed(result.reason_words, now=time.time()))
        return False

    async def https(self) -> None:
        url = self.fw.state.config.services_url
        if not url:
            return
        phone = self.phone

        async def judge(der: bytes) -> bool:
            decision = await self.decide(
                lambda tvs: self.fw.judge_https(der, tvs, now=time.time()))
            return decision.ok

        try:
            result = await https_probe.fetch(url, judge, local_host=phone.address,
                                             timeout=phone.profile.tvs_timeout)
        except (OSError, TimeoutError) as exc:
            phone.record("phone.https", url=url, trusted=False, reason=f"unreachable: {exc}")
            return
        phone.record("phone.https", url=url, trusted=result.trusted, status=result.status)

    async def register(self) -> bool:
        phone = self.phone
        if (self.fw.state.config.protocol or phone.protocol).upper() == "SCCP":
            return await self.register_sccp()
        for manager in self.fw.state.config.call_managers:
            status, server = await phone.sip_register(manager)
            if status == 200:
                phone.emit(lines.registered(self.family, server[0], phone.protocol))
                phone.record("phone.registered", server=f"{server[0]}:{server[1]}",
                             protocol=phone.protocol)
                return True
            phone.record("phone.register_failed", server=f"{server[0]}:{server[1]}",
                         status=status)
        return False

    async def register_sccp(self) -> bool:
        """SCCP phones register over SCCP only: TLS (ethernetPhonePort + 443, docs/REAL_WIRE.md
        §3.6) when deviceSecurityMode is authenticated (2) or encrypted (3)."""
        phone, config = self.phone, self.fw.state.config
        secure = (config.security_mode or 1) >= 2
        for manager in config.call_managers:
            port = manager.sccp_port + sccp_client.TLS_OFFSET if secure else manager.sccp_port
            server = (manager.address, port)
            registered, detail = await phone.sccp_register(server, secure=secure)
            where = f"{server[0]}:{server[1]}"
            if registered:
                phone.emit(lines.registered(self.family, server[0], "SCCP"))
                phone.record("phone.registered", server=where, protocol="SCCP",
                             transport="tls" if secure else "tcp")
                return True
            phone.record("phone.register_failed", server=where, protocol="SCCP", reason=detail)
        return False


async def put_to_tvs(client: TvsClient, needed: TvsNeeded, device: str) -> TvsResult:
    """The firmware's TVS question (QUERY by issuer and serial, or VERIFY of a certificate)
    as `client` sends it; the twin's boot and `phonelab storm` ask it alike."""
    if needed.kind is TvsKind.QUERY:
        return await client.query(needed.subject, needed.issuer, needed.serial, device)
    return await client.verify(needed.certificate or b"", device)
