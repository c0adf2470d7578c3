"""Local trust lookups and the TVS step every rule shares (docs/PROTOCOLS.md §7.3, §7.5).

Three rules (trust lists, signed configs, HTTPS) fall back to TVS in the same
way: TVS must be usable (an ITL with a TVS record and a `<TVS>` member), the
cache answers first, otherwise the caller is handed a `TvsNeeded` and comes back
with a reply. Keeping that in one function means the fail-closed behaviour of
§7.5, and therefore the stranded phone of §7.9, comes out of one code path.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from harness.formats.header import SignerInfo
from harness.formats.names import dn_string, public_key_bytes, same_dn
from harness.formats.trustlist import Role, TrustList, role_label
from phone_drivers.emulator.firmware_types import TvsAnswer, TvsKind, TvsNeeded, TvsReply, TvsStatus
from phone_drivers.emulator.trust_state import PhoneState


@dataclass(frozen=True)
class Vouched:
    """Trust established for `certificate`; `basis` says how ("TVS", "TVS cache")."""

    certificate: x509.Certificate
    basis: str


@dataclass(frozen=True)
class Refused:
    """No trust: the reason ends up in the Decision (and so in the console log)."""

    reason: str


def _load_certificate(der: bytes) -> x509.Certificate | None:
    """DER -> certificate, None when it or its key does not parse (hostile input)."""
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None
    return cert


# Cached: every phone of a storm loads the same few cluster certificates, and a
# certificate object is immutable, so twins in one process share it. Wrapped here, not
# decorated, so that mutation testing still mutates the rule (mutmut skips decorated
# functions; docs/mutation.md).
load_certificate = functools.lru_cache(maxsize=512)(_load_certificate)


def known(
    cert: x509.Certificate, lists: Iterable[TrustList | None], roles: Iterable[int] | None
) -> bool:
    """§7.3 `known`: a record with one of `roles` (None: any) carries this certificate/key."""
    wanted = None if roles is None else frozenset(roles)
    return any(
        (wanted is None or record.role in wanted) and record.matches(cert)
        for trust_list in lists if trust_list is not None
        for record in trust_list.records
    )  # fmt: skip


def trusted_for_tvs(state: PhoneState, der: bytes) -> bool:
    """§5.1: a TVS server certificate must match a TVS (21) record of the ITL."""
    cert = load_certificate(der)
    return cert is not None and known(cert, [state.itl], [Role.TVS])


def tvs_unusable(state: PhoneState) -> str | None:
    """Why TVS cannot be used at all (§7.5 last bullet), or None when it can."""
    itl = state.itl
    if itl is None:
        return "TVS unusable: no ITL"
    if not any(not record.is_empty for record in itl.records_with(Role.TVS)):
        return "TVS unusable: " + ("rollback ITL" if itl.is_rollback else "no TVS record in ITL")
    if not state.config.tvs_members:
        return "TVS unusable: no <TVS> member in the configuration"
    return None


def question(
    kind: TvsKind,
    signer: SignerInfo,
    roles: Iterable[int],
    certificate: bytes | None,
    state: PhoneState,
) -> TvsNeeded:
    """The TvsNeeded for a signer (QUERY) or a presented certificate (VERIFY)."""
    return TvsNeeded(kind, signer.subject, signer.issuer, signer.serial, certificate,
                     frozenset(roles), state.config.tvs_members)  # fmt: skip


def consult(
    state: PhoneState, ask: TvsNeeded, reply: TvsReply | None, now: float
) -> Vouched | Refused | TvsNeeded:
    """Cache, else the caller's TVS reply, else the question itself (§7.5)."""
    unusable = tvs_unusable(state)
    if unusable:
        return Refused(unusable)
    entry = state.tvs_cache.find(lambda cert: _answers(ask, cert), now)
    if entry is not None:
        return _with_roles(ask, entry.certificate, entry.roles, "TVS cache")
    if reply is None:
        return ask
    if not isinstance(reply, TvsAnswer):
        return Refused(f"TVS unavailable: {reply.reason}")
    if reply.status is not TvsStatus.OK:
        return Refused("TVS says the certificate is not trusted")
    cert = load_certificate(reply.certificate or ask.certificate or b"")
    if cert is None:
        return Refused("TVS answer carries no usable certificate")
    if not _answers(ask, cert):
        return Refused("TVS answer is about another certificate")
    roles = frozenset(reply.roles)
    state.tvs_cache.store(cert, roles, reply.ttl, now)
    return _with_roles(ask, cert, roles, "TVS")


def _with_roles(
    ask: TvsNeeded, cert: x509.Certificate, roles: frozenset[int], basis: str
) -> Vouched | Refused:
    if ask.roles and not ask.roles & roles:
        names = "/".join(str(role_label(r)) for r in sorted(ask.roles))
        return Refused(f"{basis} answer lacks role {names}")
    return Vouched(cert, basis)


def _answers(ask: TvsNeeded, cert: x509.Certificate) -> bool:
    """Same issuer+serial as asked and, when the question names a certificate,
    the same DER (VERIFY) or the same key (QUERY for a trust-list signer)."""
    if ask.certificate is not None:
        own = load_certificate(ask.certificate)
        if own is None:
            return False
        if ask.kind is TvsKind.VERIFY:
            return own.public_bytes(Encoding.DER) == cert.public_bytes(Encoding.DER)
        if public_key_bytes(own.public_key()) != public_key_bytes(cert.public_key()):
            return False
    return cert.serial_number == ask.serial and same_dn(ask.issuer, issuer_dn(cert))


def _issuer_dn(cert: x509.Certificate) -> str:
    """The issuer as a DN string (building the Name is the cost, hence the cache)."""
    return dn_string(cert.issuer)


issuer_dn = functools.lru_cache(maxsize=512)(_issuer_dn)
