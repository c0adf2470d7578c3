"""CTL and ITL acceptance (docs/PROTOCOLS.md §7.3) and the stranded test of §7.9.

The tables of §7.3 are encoded as two "local basis" functions (which installed
record, if any, vouches for the new signer) plus one shared path: parse, no-op
on identical bytes, sig_ok, local basis, else TVS for role SAST, else reject and
keep what is installed. Nothing here knows about certificate regeneration: a
phone is stranded exactly when these same predicates can no longer accept what
the servers present, which is how §7.9 defines it.
"""

from __future__ import annotations

from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from harness.formats.errors import FormatError
from harness.formats.trustlist import Role, TrustList, parse_trust_list
from phone_drivers.emulator.firmware_tvs import (
    Refused,
    consult,
    known,
    load_certificate,
    question,
    trusted_for_tvs,
)
from phone_drivers.emulator.firmware_types import Decision, Outcome, TvsKind, TvsNeeded, TvsReply
from phone_drivers.emulator.trust_state import PhoneState
from phone_drivers.emulator.twin_memory import shared_bytes

ListKind = Literal["ctl", "itl"]
TRUST_FAILED = "Trust List update failed"
CTL_FAILED = "CTL update failed"
_SIGNING = (Role.SAST, Role.TFTP, Role.CCM_TFTP)


def ctl_local_basis(state: PhoneState, signer: x509.Certificate) -> str | None:
    """CTL rows of §7.3 that need no TVS; None when only TVS could vouch."""
    if state.ctl is None:
        if state.itl is None or state.itl.is_rollback:
            return "trust on first use"
        return "signer in ITL" if known(signer, [state.itl], _SIGNING) else None
    in_ctl = known(signer, [state.ctl], [Role.SAST])
    return "signer is a SAST of the installed CTL" if in_ctl else None


def itl_local_basis(state: PhoneState, signer: x509.Certificate) -> str | None:
    """ITL rows of §7.3 that need no TVS; None when only TVS could vouch."""
    same_key = "signer is a SAST of the installed ITL"
    if state.ctl is None:
        if state.itl is None:
            return "trust on first use"
        if state.itl.is_rollback:
            return "rollback ITL accepts any ITL"
        return same_key if known(signer, [state.itl], [Role.SAST]) else None
    if known(signer, [state.ctl], _SIGNING):
        return "signer in CTL"
    return same_key if known(signer, [state.itl], [Role.SAST]) else None


def accept_trust_list(
    state: PhoneState, kind: ListKind, name: str, data: bytes, reply: TvsReply | None, now: float
) -> Decision | TvsNeeded:
    """Decide on a downloaded CTL or ITL; installs it on acceptance."""
    installed = state.ctl if kind == "ctl" else state.itl
    broken = CTL_FAILED if kind == "ctl" else TRUST_FAILED

    def reject(reason: str, status: str) -> Decision:
        state.trust_list_update_failed = True
        return Decision(kind, Outcome.REJECTED, reason, now, name, status)

    try:
        offered = parse_trust_list(data)
    except FormatError as exc:
        return reject(f"malformed {kind.upper()}: {exc}", broken)
    signer = _signer(offered)
    if signer is None:
        return reject("signature does not verify with its own SAST record", broken)
    if kind == "itl":
        _observe(state, offered, signer)
    if installed is not None and offered.digest == installed.digest:
        return Decision(kind, Outcome.NO_OP, "same file as installed", now, name)
    local = ctl_local_basis if kind == "ctl" else itl_local_basis
    basis = local(state, signer)
    if basis is None:
        der = signer.public_bytes(Encoding.DER)
        ask = question(TvsKind.QUERY, offered.header.signer, [Role.SAST], der, state)
        verdict = consult(state, ask, reply, now)
        if isinstance(verdict, TvsNeeded):
            return verdict
        if isinstance(verdict, Refused):
            return reject(f"unknown signer: {verdict.reason}", TRUST_FAILED)
        basis = f"{verdict.basis} vouches SAST"
    status = _install(state, kind, offered)
    return Decision(kind, Outcome.ACCEPTED, f"installed: {basis}", now, name, status, basis)


def is_stranded(state: PhoneState) -> bool:
    """§7.9: the servers' ITL signer and TVS certificates all unknown to the phone."""
    if state.itl is None or state.offered_itl is None:
        return False
    signer = load_certificate(state.offered_itl[1])
    if signer is None or itl_local_basis(state, signer) is not None:
        return False
    seen = state.tvs_presented
    return bool(seen) and not any(trusted_for_tvs(state, der) for der in seen)


def _signer(trust_list: TrustList) -> x509.Certificate | None:
    """signer(F) when sig_ok(F) holds (§2.5), else None."""
    record = trust_list.signer_record()
    if record is None or not trust_list.verify():
        return None
    return load_certificate(record.certificate or b"")


def _observe(state: PhoneState, offered: TrustList, signer: x509.Certificate) -> None:
    """Remember the ITL the servers offer now; TVS sightings restart with it."""
    if state.offered_itl is None or state.offered_itl[0] != offered.digest:
        state.offered_itl = (offered.digest, shared_bytes(signer.public_bytes(Encoding.DER)))
        state.tvs_presented.clear()


def _install(state: PhoneState, kind: ListKind, offered: TrustList) -> str:
    """Install and return the docs/HARDWARE.md §2.5 status line for it."""
    first = (state.ctl if kind == "ctl" else state.itl) is None
    if kind == "ctl":
        state.ctl = offered
    else:
        state.itl = offered
    if not first:
        return "Trust List updated"
    state.installed_this_boot.add(kind)
    if kind == "ctl":
        return "CTL Installed"
    return "CTL and ITL installed" if "ctl" in state.installed_this_boot else "ITL installed"
