"""What the phone does on its own initiative: which files it asks for, when it calls CAPF.

Both are behaviours under test, not plumbing. The request order (docs/PROTOCOLS.md
§7.2, §7.10): a phone holding any trust list asks only for `.sgn` configs,
which is why an unprepared rollback to pre-8.0 leaves phones looping on files
the old cluster cannot sign; a rollback ITL adds the plain fallback; models
without Security by Default never ask for trust lists. Each step is a list of
alternatives, requested in order until one exists; the config step must be
recomputed once the trust lists are settled. CAPF (§7.7) depends only on
`capfAuthMode` (from the last config, or from this boot's short config, which
copies it with `capfList` so an encrypted phone can still reach CAPF), on
whether a config failed because of the phone's key, and on its credentials.
"""

from __future__ import annotations

from phone_drivers.emulator.firmware_types import CapfAction, CapfAuth, FileStep
from phone_drivers.emulator.trust_state import PhoneState

DEFAULT_CONFIG = "XMLDefault.cnf.xml"


def trust_list_requests(state: PhoneState) -> tuple[FileStep, ...]:
    """CTL, then ITL per-device name with the generic-name fallback (steps 1-3)."""
    if not state.identity.capabilities.supports_sbd:
        return ()
    name = state.identity.name
    ctl = FileStep("ctl", (f"CTL{name}.tlv",))
    if state.options.pre_itl_firmware:
        return (ctl,)
    return ctl, FileStep("itl", (f"ITL{name}.tlv", "ITLFile.tlv"))


def config_requests(state: PhoneState) -> FileStep:
    """Device config then XMLDefault, signed when a trust list is held (steps 4-5)."""
    device = f"{state.identity.name}.cnf.xml"
    if not state.holds_trust_list:
        return FileStep("config", (device, DEFAULT_CONFIG))
    if state.accepts_unsigned:
        names = (f"{device}.sgn", device, f"{DEFAULT_CONFIG}.sgn", DEFAULT_CONFIG)
        return FileStep("config", names)
    first = (f"{device}.enc.sgn",) if state.options.enc_first else ()
    return FileStep("config", (*first, f"{device}.sgn", f"{DEFAULT_CONFIG}.sgn"))


def last_trust_list_name(state: PhoneState) -> str | None:
    """The final trust-list name of the sequence; its absence means "none found"."""
    steps = trust_list_requests(state)
    return steps[-1].names[-1] if steps else None


def no_config_name(state: PhoneState) -> str:
    """The config name whose absence ends the config step without a config."""
    return config_requests(state).names[-1]


AUTH_NONE, AUTH_STRING, AUTH_NULL, AUTH_LSC_FIRST, AUTH_MIC_FIRST = range(5)


def capf_action(state: PhoneState) -> CapfAction:
    """What the phone does about CAPF now, given config, typed string and keys."""
    facts = state.capf_facts
    mode = AUTH_NONE if facts.capf_auth_mode is None else facts.capf_auth_mode
    servers, typed = facts.capf_servers, state.capf_string
    if mode == AUTH_NONE:
        if state.capf_needed is None:
            return CapfAction(False, "no CAPF operation scheduled")
        reason = f"{state.capf_needed}: contacting CAPF"
        if typed is not None:
            return CapfAction(True, reason, "password", typed, servers)
        return CapfAction(True, reason, "null", "", servers)
    if mode == AUTH_STRING:
        if typed is None:
            return CapfAction(False, "waiting for the authentication string")
        return CapfAction(True, "authentication string entered", "password", typed, servers)
    if mode == AUTH_NULL:
        return CapfAction(True, "operation scheduled: null string", "null", "", servers)
    if mode in (AUTH_LSC_FIRST, AUTH_MIC_FIRST):
        have: dict[CapfAuth, bool] = {"lsc": state.lsc is not None,
                                      "mic": state.identity.mic is not None}  # fmt: skip
        order: tuple[CapfAuth, ...] = ("lsc", "mic") if mode == AUTH_LSC_FIRST else ("mic", "lsc")
        for choice in order:
            if have[choice]:
                reason = f"operation scheduled: authenticate with the {choice.upper()}"
                return CapfAction(True, reason, choice, None, servers)
        return CapfAction(False, "existing-certificate authentication but no LSC or MIC")
    return CapfAction(False, f"unknown capfAuthMode {mode}")
