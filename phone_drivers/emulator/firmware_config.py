"""Configuration acceptance: signed, short and encrypted configs (docs/PROTOCOLS.md §7.4).

The phone verifies a `.sgn` with a TFTP/CCM+TFTP certificate from its CTL, then
its ITL, then one TVS vouches for (§3.3); on failure it keeps the last accepted
config. A short config announcing encryption makes it fetch the `.enc.sgn`,
whose key is chosen by certHash among the LSC and MIC (§4.4); a mismatch or a
failed decryption is what makes the phone ask CAPF for help (§7.7).
"""

from __future__ import annotations

from harness.formats.enc import EncryptedConfig, cert_hash, parse_encrypted
from harness.formats.errors import FormatError, VerificationError
from harness.formats.names import same_dn
from harness.formats.sgn import SignedFile, parse_signed, stripped_name
from harness.formats.trustlist import Role
from harness.pki.identity import Identity
from phone_drivers.emulator.config_facts import read_config
from phone_drivers.emulator.firmware_tvs import (
    Refused,
    Vouched,
    consult,
    load_certificate,
    question,
)
from phone_drivers.emulator.firmware_types import Decision, Outcome, TvsKind, TvsNeeded, TvsReply
from phone_drivers.emulator.trust_state import PhoneState

PUBLIC_KEY_MISMATCH = "public key mismatch"
DECRYPT_FAILED = "decrypt file failed"
_CONFIG_SIGNERS = (Role.CCM_TFTP, Role.TFTP)


def accept_config(
    state: PhoneState, name: str, data: bytes, reply: TvsReply | None, now: float
) -> Decision | TvsNeeded:
    """Decide on a downloaded config file; applies it on acceptance."""
    lower = name.lower()
    encrypted, signed = lower.endswith(".enc.sgn"), lower.endswith((".sgn", ".sha512"))

    def reject(reason: str, status: str | None = None, capf: str | None = None) -> Decision:
        state.config_rejected = True
        state.capf_needed = capf or state.capf_needed
        return Decision("config", Outcome.REJECTED, reason, now, name, status,
                        try_next=state.accepts_unsigned, capf_needed=capf)  # fmt: skip

    if not signed:
        if state.holds_trust_list and not state.accepts_unsigned:
            return reject("unsigned config refused: the phone holds a trust list")
        body, basis = data, "unsigned"
    else:
        invalid = f"invalid file {name}, authenticated fail"
        try:
            parsed = parse_encrypted(data) if encrypted else parse_signed(data)
        except FormatError as exc:
            return reject(f"malformed signed file: {exc}", invalid)
        if state.options.check_config_filename and parsed.header.filename != name:
            return reject(f"header names {parsed.header.filename!r}, not {name!r}", invalid)
        verdict = verify_signed(state, parsed, reply, now)
        if isinstance(verdict, TvsNeeded):
            return verdict
        if isinstance(verdict, Refused):
            return reject(f"signature not verified: {verdict.reason}", invalid)
        body, basis = parsed.body, verdict.basis
        if isinstance(parsed, EncryptedConfig):
            decrypted = _decrypt(state, parsed)
            if isinstance(decrypted, str):
                return reject(f"encrypted config unusable: {decrypted}", capf=decrypted)
            body = decrypted
    try:
        facts = read_config(body)
    except FormatError as exc:
        return reject(f"config is not usable XML: {exc.reason}")
    if facts.encrypted and not encrypted:
        state.stub = facts
        if not _own_keys(state, facts.cert_hash):  # no key of ours can open it (§7.4)
            return reject(f"short config names certHash {facts.cert_hash or '(empty)'}: "
                          "no matching LSC or MIC", capf=PUBLIC_KEY_MISMATCH)
        follow = stripped_name(name) + ".enc.sgn"
        return Decision("config", Outcome.DEFERRED, "short config: the full config is encrypted",
                        now, name, basis=basis, fetch_next=follow)  # fmt: skip
    state.last_config, state.config = body, facts
    state.config_rejected, state.capf_needed, state.stub = False, None, None
    kind = "default config (autoregistration)" if facts.root == "Default" else "config"
    return Decision("config", Outcome.ACCEPTED, f"{kind} applied", now, name, basis=basis)


def verify_signed(
    state: PhoneState, signed: SignedFile, reply: TvsReply | None, now: float
) -> Vouched | Refused | TvsNeeded:
    """§3.3: TFTP-role certificate by issuer+serial from CTL, then ITL, then TVS."""
    signer = signed.signer
    local = [
        (label, load_certificate(record.certificate))
        for label, trust_list in (("CTL", state.ctl), ("ITL", state.itl)) if trust_list
        for record in trust_list.records
        if record.role in _CONFIG_SIGNERS and record.certificate is not None
        and record.serial == signer.serial and same_dn(record.issuer, signer.issuer)
    ]  # fmt: skip
    for label, cert in local:
        if cert is not None and signed.verify(cert):
            return Vouched(cert, f"{label} TFTP record")
    if local:
        return Refused("the signature does not match the TFTP certificate")
    ask = question(TvsKind.QUERY, signer, _CONFIG_SIGNERS, None, state)
    verdict = consult(state, ask, reply, now)
    if isinstance(verdict, Vouched) and not signed.verify(verdict.certificate):
        return Refused("the signature does not match the certificate TVS returned")
    return verdict


def _own_keys(state: PhoneState, wanted: str | None) -> list[Identity]:
    """The phone's LSC/MIC whose certificate MD5 equals the stub's certHash."""
    own = [c for c in (state.lsc, state.identity.mic) if c is not None]
    return [c for c in own if wanted and cert_hash(c.cert) == wanted]


def _decrypt(state: PhoneState, encrypted: EncryptedConfig) -> bytes | str:
    """Plain XML, or the CAPF trigger reason of §7.4 when no key works."""
    own = [c for c in (state.lsc, state.identity.mic) if c is not None]
    if state.stub is not None:  # key chosen by certHash; without a stub, try each
        own = _own_keys(state, state.stub.cert_hash)
    if not own:
        return PUBLIC_KEY_MISMATCH
    for credential in own:
        try:
            return encrypted.decrypt(credential.key)
        except VerificationError:
            continue
    return DECRYPT_FAILED
