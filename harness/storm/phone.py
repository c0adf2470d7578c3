"""One storm phone: the firmware's trust rules over real sockets, timed stage by stage.

It is the twin phone's boot (phone_drivers/emulator/boot.py) without console, power,
flash or retries, pointed at servers the user names: CTL, ITL (per-device name, then
ITLFile.tlv), the signed config, the files that config and the model name (softkeys,
dial plan, feature policy, ring list), then, only when asked for, a TVS VERIFY, the
HTTPS services server judged as a phone judges it, and a SIP REGISTER. Every trust
decision is the firmware's (`Firmware`); this module only moves bytes, keeps time and
says which server failed the phone. Reads only: TFTP read requests, TVS questions,
one HTTPS GET; it registers only when given a SIP server.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

from harness.formats.roles import Role
from harness.services.tvs_client import TvsClient, TvsServer, TvsUnavailable
from harness.storm.outcome import Failure, Hiccup, PhoneOutcome, StageTime
from harness.storm.plan import Server, StormPlan
from phone_drivers.emulator import https_probe, tftp_client
from phone_drivers.emulator.boot import put_to_tvs
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import (
    Decision,
    Outcome,
    TvsAnswer,
    TvsKind,
    TvsNeeded,
    TvsReply,
    TvsStatus,
)
from phone_drivers.emulator.sip_client import SipAgent, SipLine, SipRegistrationError
from phone_drivers.emulator.tftp_client import TftpOptions
from phone_drivers.emulator.trust_state import PhoneIdentity

# config elements naming files the phone fetches after its config (docs/HARDWARE.md §1.3)
NAMED_FILES = ("softKeyFile", "dialTemplate", "featurePolicyFile")
Ask = Callable[[TvsReply | None], Decision | TvsNeeded]


class StageFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.stage}: {failure.cause} ({failure.server})")
        self.failure = failure


def ring_list(model: str) -> str:
    """79xx ask `Ringlist.xml`; 78xx/88xx the wide-band list."""
    return "Ringlist.xml" if model.startswith("79") else "Ringlist-wb.xml"


def named_files(config: bytes) -> list[str]:
    """File names the config points at; a config with a DTD names nothing (no entities)."""
    if b"<!DOCTYPE" in config or b"<!ENTITY" in config:
        return []
    try:
        root = ET.fromstring(config)
    except ET.ParseError:
        return []
    names = []
    for tag in NAMED_FILES:
        for element in root.iter(tag):
            text = (element.text or "").strip()
            if text and "/" not in text.lstrip("/") and text not in names:
                names.append(text.lstrip("/"))
    return names


class StormPhone:
    """One phone's boot against the plan's servers; `boot()` returns its outcome."""

    def __init__(self, plan: StormPlan, index: int, address: str) -> None:
        self.plan, self.address = plan, address
        self.identity = PhoneIdentity(plan.mac(index), plan.model(index))
        self.firmware = Firmware(self.identity)
        self.name = self.identity.name
        count = len(plan.tftp)  # phones spread over the TFTP servers, failing over in order
        self.tftp = [plan.tftp[(index + k) % count] for k in range(count)]
        self.options = TftpOptions(timeout=plan.tftp_timeout, retries=plan.tftp_retries)
        self.outcome = PhoneOutcome(self.name, self.identity.model, time.time())
        self._stage = ("", 0.0)
        self._waiting_on = ""  # the server the phone waits for now (blamed at a timeout)
        self._sip: SipAgent | None = None

    # --- running ---------------------------------------------------------------
    async def boot(self) -> PhoneOutcome:
        out = self.outcome
        out.start = time.time()
        self.firmware.reset(now=out.start)
        try:
            await self._trust_lists()
            config = await self._config()
            await self._defaults(config)
            if self.plan.https:
                await self._https(self.plan.https)
            if self.plan.tvs and not any(s.stage == "tvs" for s in out.stages):
                await self._tvs_check()
            if self.plan.sip:
                await self._register(self.plan.sip)
            self._close_stage(ok=True)
        except StageFailed as exc:
            self._close_stage(ok=False)
            out.failure = exc.failure
        out.end = time.time()
        return out

    def stop(self, why: str) -> None:
        """The storm's time is up: fail the phone in the stage it is in."""
        if self.outcome.end == 0:
            stage = self._stage[0] or "ctl"
            self._close_stage(ok=False)
            self.outcome.failure = Failure(stage, "storm timeout", self._waiting_on, why)
            self.outcome.end = time.time()

    def close(self) -> None:
        if self._sip is not None:
            self._sip.close()
            self._sip = None

    # --- stage bookkeeping --------------------------------------------------------
    def _open_stage(self, stage: str) -> None:
        self._close_stage(ok=True)
        self._stage = (stage, time.time())

    def _close_stage(self, *, ok: bool) -> None:
        stage, start = self._stage
        if stage:
            self.outcome.stages.append(StageTime(stage, start, time.time(), ok))
        self._stage = ("", 0.0)

    def _fail(self, stage: str, cause: str, server: str, detail: str = "") -> StageFailed:
        return StageFailed(Failure(stage, cause, server, detail))

    # --- TFTP ---------------------------------------------------------------------
    async def _fetch(self, stage: str, name: str) -> bytes | None:
        """`name` from the first TFTP server that answers; None when it has no such file."""
        last = ""
        for server in self.tftp:
            last = self._waiting_on = f"{server[0]}:{server[1]}"
            try:
                return await tftp_client.fetch(server, name, local_host=self.address,
                                               options=self.options)
            except tftp_client.TftpError as exc:
                if exc.code == 1:
                    return None
                raise self._fail(stage, f"tftp error {exc.code}", last, exc.message) from None
            except tftp_client.TftpTimeout:
                self.outcome.hiccups.append(Hiccup(stage, last, "timeout"))
            except OSError as exc:
                self.outcome.hiccups.append(Hiccup(stage, last, type(exc).__name__))
        raise self._fail(stage, "timeout", last, f"{name}: no TFTP server answered")

    async def _decide(self, stage: str, ask: Ask) -> Decision:
        result = ask(None)
        while isinstance(result, TvsNeeded):
            result = ask(await self._ask_tvs(result, back_to=stage))
        return result

    async def _trust_lists(self) -> None:
        fw = self.firmware
        for step in fw.trust_list_requests():
            self._open_stage(step.kind)
            accept = fw.accept_ctl if step.kind == "ctl" else fw.accept_itl
            for name in step.names:
                data = await self._fetch(step.kind, name)
                if data is None:
                    decision = fw.not_found(name, now=time.time())
                else:
                    decision = await self._decide(step.kind, _ask_file(accept, name, data))
                    if decision.outcome is Outcome.REJECTED:
                        raise self._fail(step.kind, "rejected", self._served_by(),
                                         f"{name}: {decision.reason}")
                if data is not None or not decision.try_next:
                    break

    async def _config(self) -> bytes:
        self._open_stage("config")
        fw = self.firmware
        names = list(fw.config_requests().names)
        while names:
            name = names.pop(0)
            data = await self._fetch("config", name)
            if data is None:
                decision = fw.not_found(name, now=time.time())
                if not decision.try_next:
                    break
                continue
            decision = await self._decide("config", _ask_config(fw, name, data))
            if decision.fetch_next:
                names.insert(0, decision.fetch_next)
                continue
            if decision.capf_needed:
                raise self._fail("config", "needs CAPF", self._served_by(),
                                 f"{name}: {decision.capf_needed} (storm phones hold no LSC)")
            if decision.ok:
                return fw.state.last_config or data
            if not decision.try_next:
                raise self._fail("config", "rejected", self._served_by(),
                                 f"{name}: {decision.reason}")
        raise self._fail("config", "not found", self._served_by(),
                         f"none of {', '.join(fw.config_requests().names)}")

    async def _defaults(self, config: bytes) -> None:
        """Files the config names and the model's ring list; absent ones are normal."""
        self._open_stage("defaults")
        for name in [*named_files(config), ring_list(self.identity.model)]:
            await self._fetch("defaults", name)

    def _served_by(self) -> str:
        return f"{self.tftp[0][0]}:{self.tftp[0][1]}"

    # --- TVS, HTTPS, SIP -------------------------------------------------------------
    def _tvs_servers(self, needed: TvsNeeded | None) -> list[TvsServer]:
        if self.plan.tvs:
            return [TvsServer(h, p, i) for i, (h, p) in enumerate(self.plan.tvs)]
        members = needed.servers if needed is not None else self.firmware.state.config.tvs_members
        return [TvsServer(m.address, m.port, m.priority) for m in members]

    async def _ask_tvs(self, needed: TvsNeeded, *, back_to: str) -> TvsReply:
        """Put the firmware's question to TVS; time it as the `tvs` stage."""
        self._open_stage("tvs")
        servers = self._tvs_servers(needed)
        before, self._waiting_on = self._waiting_on, ",".join(
            f"{s.host}:{s.port}" for s in servers)
        client = TvsClient(servers, self.firmware.server_cert_trusted_for_tvs,
                           timeout=self.plan.request_timeout, local_host=self.address)
        device = self.identity.tvs_device_name
        try:
            result = await put_to_tvs(client, needed, device)
        except TvsUnavailable as exc:
            where = ",".join(f"{s.host}:{s.port}" for s in servers)
            raise self._fail("tvs", _tvs_cause(exc.failures), where, str(exc)) from None
        self._open_stage(back_to)
        self._waiting_on = before
        status = TvsStatus.OK if result.valid else TvsStatus.INVALID
        return TvsAnswer(status, tuple(result.roles), result.certificate, result.ttl or 0)

    async def _tvs_check(self) -> None:
        """No question came up on the way: VERIFY the config signer's certificate, as a
        phone does for a certificate its ITL does not vouch for."""
        der = _tftp_certificate(self.firmware)
        if der is None:
            raise self._fail("tvs", "no certificate to ask about", "",
                             "the phone holds no trust list with a TFTP certificate")
        needed = TvsNeeded(TvsKind.VERIFY, "", "", 0, der, frozenset(), ())
        answer = await self._ask_tvs(needed, back_to="tvs")
        if not isinstance(answer, TvsAnswer) or answer.status is not TvsStatus.OK:
            where = ",".join(f"{h}:{p}" for h, p in self.plan.tvs)
            raise self._fail("tvs", "certificate not valid", where,
                             "TVS did not vouch for the TFTP certificate")

    async def _https(self, url: str) -> None:
        self._open_stage("https")
        self._waiting_on = url
        fw = self.firmware

        async def judge(der: bytes) -> bool:
            decision = await self._decide("https", lambda tvs: fw.judge_https(
                der, tvs, now=time.time()))
            return decision.ok

        try:
            result = await asyncio.wait_for(https_probe.fetch(
                url, judge, local_host=self.address, timeout=self.plan.request_timeout),
                self.plan.request_timeout * 3)
        except StageFailed:
            raise
        except TimeoutError:
            raise self._fail("https", "timeout", url) from None
        except ConnectionRefusedError:
            raise self._fail("https", "refused", url) from None
        except OSError as exc:
            raise self._fail("https", type(exc).__name__, url, str(exc)) from None
        if not result.trusted:
            raise self._fail("https", "not trusted", url, "neither trust list nor TVS")
        if result.status is None:
            raise self._fail("https", "no HTTP answer", url)

    async def _register(self, server: Server) -> None:
        self._open_stage("register")
        state = self.firmware.state
        lines = [SipLine(line.dn, line.contact) for line in state.config.lines]
        self._sip = agent = SipAgent(self.name, self.address, lambda _action: None,
                                     model=self.identity.model, lines=lines, transport="tcp")
        where = self._waiting_on = f"{server[0]}:{server[1]}"
        try:
            status = await agent.register(server, timeout=self.plan.request_timeout / 3)
        except SipRegistrationError as exc:
            cause = "refused" if "refused" in str(exc).lower() else "no answer"
            raise self._fail("register", cause, where, str(exc)) from None
        if status != 200:
            raise self._fail("register", f"status {status}", where)
        self._close_stage(ok=True)


def _ask_file(accept: Callable[..., Decision | TvsNeeded], name: str, data: bytes) -> Ask:
    def ask(tvs: TvsReply | None) -> Decision | TvsNeeded:
        return accept(data, tvs, name=name, now=time.time())
    return ask


def _ask_config(firmware: Firmware, name: str, data: bytes) -> Ask:
    def ask(tvs: TvsReply | None) -> Decision | TvsNeeded:
        return firmware.accept_config(name, data, tvs, now=time.time())
    return ask


def _tvs_cause(failures: list[str]) -> str:
    text = " ".join(failures).lower()
    if not failures:
        return "no TVS server"
    if "no answer" in text or "timeout" in text:
        return "timeout"
    if "refused" in text:
        return "refused"
    if "not an accepted tvs certificate" in text:
        return "TVS certificate not in the ITL"
    return "unavailable"


def _tftp_certificate(firmware: Firmware) -> bytes | None:
    state = firmware.state
    for trust in (state.itl, state.ctl):
        if trust is None:
            continue
        for record in trust.records:
            if record.role in (Role.CCM_TFTP, Role.TFTP) and record.certificate:
                return record.certificate
    return None
