"""What one storm phone reports: each stage's start and end, and its first failure.

Kept as small plain records (tuples of floats and short strings) because a storm
holds one per phone and, spread over processes, sends them back through a pipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGES = ("ctl", "itl", "config", "defaults", "tvs", "https", "register")


@dataclass(frozen=True)
class StageTime:
    """One stage of one phone: when it started and ended (epoch seconds), ok or not."""

    stage: str
    start: float
    end: float
    ok: bool = True

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Failure:
    """Why a phone failed: the stage, a short cause and the server that caused it."""

    stage: str
    cause: str  # "timeout", "rejected: …", "refused", "not found", "tvs unavailable", …
    server: str  # "host:port" or a URL; "" when no server is to blame (storm timeout)
    detail: str = ""


@dataclass(frozen=True)
class Hiccup:
    """A server that let a phone down without failing it (it went on to the next one)."""

    stage: str
    server: str
    cause: str


@dataclass
class PhoneOutcome:
    name: str
    model: str
    start: float
    end: float = 0.0
    stages: list[StageTime] = field(default_factory=list)
    failure: Failure | None = None
    hiccups: list[Hiccup] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.end > 0

    @property
    def seconds(self) -> float:
        return self.end - self.start
