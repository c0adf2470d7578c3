"""The twin phone's firmware: a pure, sans-IO trust state machine (docs/PROTOCOLS.md §7).

Every Security-by-Default rule is decided here from bytes and a clock value the
caller passes in, so each rule is unit-testable in microseconds and the network
layer only moves bytes (docs/ARCHITECTURE.md principle 3). Methods that may need TVS
return a `TvsNeeded`; the caller asks TVS and calls the same method again with
`tvs=TvsAnswer(...)` or `tvs=TvsUnavailable(...)`. Every `Decision` is appended
to `log` and its status line to the phone's status messages (docs/HARDWARE.md §2.5).
The rules themselves live in the `firmware_*` modules; this class is the
phone-shaped front door plus the reset/erase table of §7.11.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from harness.errors import UsageError
from harness.formats.header import SignerInfo
from harness.formats.names import dn_string, public_key_bytes
from harness.pki.identity import Identity
from phone_drivers.emulator import firmware_actions as actions
from phone_drivers.emulator.config_facts import ConfigFacts
from phone_drivers.emulator.firmware_config import accept_config
from phone_drivers.emulator.firmware_trust import accept_trust_list, is_stranded
from phone_drivers.emulator.firmware_tvs import (
    Refused,
    consult,
    known,
    load_certificate,
    question,
    trusted_for_tvs,
)
from phone_drivers.emulator.firmware_types import (
    CapfAction,
    Decision,
    FileStep,
    Outcome,
    TvsKind,
    TvsNeeded,
    TvsReply,
)
from phone_drivers.emulator.trust_state import PhoneIdentity, PhoneOptions, PhoneState
from phone_drivers.emulator.twin_memory import shared_bytes


class Firmware:
    """One phone's trust decisions; `state` holds everything §7.12 exposes."""

    def __init__(self, identity: PhoneIdentity, options: PhoneOptions | None = None) -> None:
        identity.capabilities  # noqa: B018  (fail early on an unknown model)
        self.state = PhoneState(identity, options or PhoneOptions())
        self.log: list[Decision] = []

    @property
    def is_stranded(self) -> bool:
        """§7.9: neither the offered ITL signer nor any TVS certificate is trusted."""
        return is_stranded(self.state)

    def trust_list_requests(self) -> tuple[FileStep, ...]:
        """CTL step then ITL step (§7.2 steps 1-3); empty for non-SBD models."""
        return actions.trust_list_requests(self.state)

    def config_requests(self) -> FileStep:
        """Recompute after the trust lists: the names depend on what is installed."""
        return actions.config_requests(self.state)

    def accept_ctl(self, data: bytes, tvs: TvsReply | None = None, *, name: str | None = None,
                   now: float = 0.0) -> Decision | TvsNeeded:  # fmt: skip
        name = name or f"CTL{self.state.identity.name}.tlv"
        return self._settle(accept_trust_list(self.state, "ctl", name, data, tvs, now))

    def accept_itl(self, data: bytes, tvs: TvsReply | None = None, *, name: str | None = None,
                   now: float = 0.0) -> Decision | TvsNeeded:  # fmt: skip
        name = name or f"ITL{self.state.identity.name}.tlv"
        return self._settle(accept_trust_list(self.state, "itl", name, data, tvs, now))

    def accept_config(self, name: str, data: bytes, tvs: TvsReply | None = None, *,
                      now: float = 0.0) -> Decision | TvsNeeded:  # fmt: skip
        return self._settle(accept_config(self.state, name, data, tvs, now))

    def not_found(self, name: str, *, now: float = 0.0) -> Decision:
        """The server has no `name`: keep the current state (§7.2, §7.3 last rows)."""
        state, status = self.state, None
        kind = ("ctl" if name.startswith("CTL") else "itl") if name.endswith(".tlv") else "config"
        last = (actions.no_config_name(state) if kind == "config"
                else actions.last_trust_list_name(state))  # fmt: skip
        if kind != "config" and name == last and not state.holds_trust_list:
            status = "No Trust List installed"
        elif kind == "ctl":
            status = "File Not Found <CTLFile.tlv>"
        elif kind == "config" and name == last:
            status = f"File not found <{name}>"
        decision = Decision(kind, Outcome.NOT_FOUND, "not on the server: state kept", now, name,
                            status, try_next=name != last)  # fmt: skip
        return self._record(decision)

    def server_cert_trusted_for_tvs(self, der: bytes) -> bool:
        """TLS check of a TVS server (§5.1): does the ITL hold it with role TVS (21)?"""
        if der not in self.state.tvs_presented:
            self.state.tvs_presented.append(shared_bytes(der))
        return trusted_for_tvs(self.state, der)

    def judge_https(self, cert_der: bytes, tvs: TvsReply | None = None, *,
                    now: float = 0.0) -> Decision | TvsNeeded:  # fmt: skip
        """§7.6: a record of the CTL/ITL (any role), else a TVS VERIFY with status 0."""
        cert = load_certificate(cert_der)
        if cert is None:
            return self._record(Decision("https", Outcome.REJECTED, "unparseable certificate", now))
        if known(cert, [self.state.ctl, self.state.itl], None):
            return self._record(Decision("https", Outcome.ACCEPTED, "trusted: in the trust list",
                                         now, basis="trust list"))  # fmt: skip
        names = SignerInfo(dn_string(cert.subject), dn_string(cert.issuer), cert.serial_number)
        ask = question(TvsKind.VERIFY, names, (), cert_der, self.state)
        verdict = consult(self.state, ask, tvs, now)
        if isinstance(verdict, TvsNeeded):
            return verdict
        if isinstance(verdict, Refused):
            return self._record(Decision("https", Outcome.REJECTED, verdict.reason, now))
        return self._record(Decision("https", Outcome.ACCEPTED, f"trusted: {verdict.basis}",
                                     now, basis=verdict.basis))  # fmt: skip

    def capf_action(self) -> CapfAction:
        """What the phone would do about CAPF now (§7.7); a query, not logged."""
        return actions.capf_action(self.state)

    def enter_capf_string(self, text: str) -> None:
        """The user types the CAPF authentication string on the phone."""
        self.state.capf_string = text

    def install_lsc(self, cert: x509.Certificate, key: PrivateKeyTypes, *,
                    now: float = 0.0) -> Decision:  # fmt: skip
        """CAPF issued an LSC; the caller runs the config phase again (§7.7)."""
        mine = public_key_bytes(cert.public_key())
        if mine is None or mine != public_key_bytes(key.public_key()):
            raise UsageError("the LSC certificate does not hold the public half of the key")
        state = self.state
        state.lsc, state.capf_result, state.capf_needed = Identity(cert, key), "installed", None
        return self._done("lsc", "LSC installed: config phase runs again", now)

    def delete_lsc(self, *, now: float = 0.0) -> Decision:
        """CAPF delete operation: the MIC becomes the client certificate again."""
        self.state.lsc, self.state.capf_result = None, "deleted"
        return self._done("lsc", "LSC deleted by CAPF", now)

    def capf_failed(self, reason: str, *, now: float = 0.0) -> Decision:
        """A CAPF session ended without success (server refusal, no server, ...)."""
        self.state.capf_result = f"failed: {reason}"
        return self._record(Decision("capf", Outcome.REJECTED, reason, now))

    def reset(self, *, now: float = 0.0) -> Decision:
        """Reboot: RAM (TVS cache, flags, status messages) gone, flash kept (§7.11)."""
        self.state.clear_boot_state(cache=True, statuses=True)
        return self._done("state", "reset: TVS cache cleared, flash kept", now)

    def restart(self, *, now: float = 0.0) -> Decision:
        """Soft restart: boot flags cleared; TVS cache per option (§7.11 uncertain)."""
        cache = self.state.options.restart_clears_tvs_cache
        self.state.clear_boot_state(cache=cache, statuses=False)
        return self._done("state", "restart" + (": TVS cache cleared" if cache else ""), now)

    def erase_itl(self, *, now: float = 0.0) -> Decision:
        """Settings > Security > Trust List > ITL > Erase: the next ITL is trusted."""
        self.state.itl = None
        return self._done("itl", "ITL erased by the user", now)

    def erase_ctl(self, *, now: float = 0.0) -> Decision:
        """Settings > Security > Trust List > CTL > Erase."""
        self.state.ctl = None
        return self._done("ctl", "CTL erased by the user", now)

    def factory_reset(self, *, now: float = 0.0) -> Decision:
        """Drop CTL, ITL, last config and (unless configured otherwise) the LSC."""
        state = self.state
        state.ctl = state.itl = None
        state.last_config, state.config = None, ConfigFacts()
        if not state.options.factory_reset_keeps_lsc:
            state.lsc = None
        state.clear_boot_state(cache=True, statuses=True)
        return self._done("state", "factory reset", now, "Erasing CTL and ITL files")

    def _done(self, subject: str, reason: str, now: float, status: str | None = None) -> Decision:
        return self._record(Decision(subject, Outcome.DONE, reason, now, status=status))

    def _record(self, decision: Decision) -> Decision:
        self.log.append(decision)
        self.state.add_status(decision.status)
        return decision

    def _settle(self, result: Decision | TvsNeeded) -> Decision | TvsNeeded:
        """Log a final decision; a pending TVS question is handed back untouched."""
        return result if isinstance(result, TvsNeeded) else self._record(result)
