"""Typed results of the twin's trust decisions and the sans-IO TVS protocol.

The firmware model is pure (docs/ARCHITECTURE.md principle 3): it never opens a
socket. When a rule needs TVS (docs/PROTOCOLS.md §7.5) it returns a `TvsNeeded`
question instead of an answer; the network layer asks the TVS members and calls
the same method again with the `TvsAnswer` (or `TvsUnavailable` when no member
could be used). Every other outcome is a `Decision`, which also feeds the
observable decision log (§7.12) that console renderers and tests read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from phone_drivers.emulator.config_facts import CapfServer, TvsMember


class Outcome(StrEnum):
    """What a decision did to the phone's state."""

    ACCEPTED = "accepted"  # installed / applied / trusted
    REJECTED = "rejected"  # refused; previous state kept
    NO_OP = "no-op"  # nothing to change (same file, nothing to do)
    NOT_FOUND = "not-found"  # the server had no such file; state kept
    DEFERRED = "deferred"  # verified, but the content is in `fetch_next`
    DONE = "done"  # a user/CAPF action that always succeeds (erase, reset, LSC)


@dataclass(frozen=True)
class Decision:
    """One decision: what, about which file, why, and the status line it shows.

    `basis` says how trust was established ("trust on first use", "CTL SAST
    record", "TVS", "TVS cache" ...). `fetch_next` names a file the phone must
    request now (the .enc.sgn after a stub); `try_next` says the caller should go
    on with the next name of the current request step instead of stopping.
    """

    subject: str  # "ctl", "itl", "config", "https", "lsc", "capf", "state"
    outcome: Outcome
    reason: str
    at: float
    name: str | None = None
    status: str | None = None
    basis: str | None = None
    fetch_next: str | None = None
    try_next: bool = False
    capf_needed: str | None = None

    @property
    def ok(self) -> bool:
        """Accepted, deferred (verified stub) or a harmless no-op."""
        return self.outcome in (Outcome.ACCEPTED, Outcome.DEFERRED, Outcome.NO_OP, Outcome.DONE)


class TvsKind(StrEnum):
    """QUERY asks by names + serial (file signers); VERIFY sends the certificate."""

    QUERY = "query"
    VERIFY = "verify"


@dataclass(frozen=True)
class TvsNeeded:
    """A question the network layer must put to TVS before the rule can finish.

    `roles` are the role codes one of which the answer must carry (empty: any
    positive answer will do, as for HTTPS). `certificate` is the DER to VERIFY,
    or, for a trust-list signer, the certificate the answer must match.
    `servers` are the `<TVS>` members of the last config in priority order.
    """

    kind: TvsKind
    subject: str
    issuer: str
    serial: int
    certificate: bytes | None
    roles: frozenset[int]
    servers: tuple[TvsMember, ...]


class TvsStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"


@dataclass(frozen=True)
class TvsAnswer:
    """TVS's reply: STATUS, ROLES, the certificate (QUERY) and TTL in seconds."""

    status: TvsStatus
    roles: tuple[int, ...] = ()
    certificate: bytes | None = None
    ttl: int = 0


@dataclass(frozen=True)
class TvsUnavailable:
    """No member answered (connect/TLS failure on all of them): fail closed."""

    reason: str = "no TVS server reachable"


TvsReply = TvsAnswer | TvsUnavailable

CapfAuth = Literal["password", "null", "lsc", "mic"]


@dataclass(frozen=True)
class CapfAction:
    """What the phone would do about CAPF now (docs/PROTOCOLS.md §7.7)."""

    connect: bool
    reason: str
    auth: CapfAuth | None = None
    password: str | None = None
    servers: tuple[CapfServer, ...] = ()


@dataclass(frozen=True)
class FileStep:
    """One step of the boot sequence: request `names` in order until one exists."""

    kind: Literal["ctl", "itl", "config"]
    names: tuple[str, ...]
