"""Preflight's answer: a table for people, JSON for machines, one summary line, an exit code.

Exit codes: 0 no phone would be stranded (and no certificate has expired), 1 some
would be (or a certificate has expired), 2 a user mistake, 3 the cluster could not
be read. The last line is always `preflight phones= stranded= unaffected= expiring=`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.preflight.plan import Step
from harness.preflight.read import ClusterSnapshot
from harness.preflight.simulate import Prediction


@dataclass
class PreflightResult:
    snapshot: ClusterSnapshot
    plan: list[Step]
    predictions: list[Prediction]
    safe_plan: list[Step]
    safe_predictions: list[Prediction]

    @property
    def stranded(self) -> int:
        return sum(p.state == "stranded" for p in self.predictions)

    @property
    def unaffected(self) -> int:
        return sum(p.state == "unaffected" for p in self.predictions)

    @property
    def expiring(self) -> int:
        return sum(c.state != "ok" for c in self.snapshot.certificates)

    @property
    def expired(self) -> int:
        return sum(c.state == "expired" for c in self.snapshot.certificates)

    @property
    def exit_code(self) -> int:
        return 1 if self.stranded or self.expired else 0

    def summary(self) -> str:
        return (f"preflight phones={len(self.predictions)} stranded={self.stranded} "
                f"unaffected={self.unaffected} expiring={self.expiring}")

    def as_json(self) -> dict[str, Any]:
        snap = self.snapshot
        return {
            "plan": [s.value for s in self.plan],
            "trust_lists": [asdict(t) for t in snap.trust_lists],
            "certificates": [asdict(c) | {"state": c.state} for c in snap.certificates],
            "tvs": [asdict(t) for t in snap.tvs],
            "phones": [asdict(p) for p in snap.phones],
            "predictions": [asdict(p) for p in self.predictions],
            "safe_order": [s.value for s in self.safe_plan],
            "safe_order_predictions": [asdict(p) for p in self.safe_predictions],
            "files_read": snap.files_read,
            "summary": {"phones": len(self.predictions), "stranded": self.stranded,
                        "unaffected": self.unaffected, "expiring": self.expiring,
                        "expired": self.expired},
        }


def render(result: PreflightResult, console: Console) -> None:
    snap = result.snapshot
    lists = Table(title="Trust lists served")
    for column in ("file", "signer", "records", "signature", "rollback form"):
        lists.add_column(column)
    for t in snap.trust_lists:
        lists.add_row(t.name, t.signer, str(t.records), "valid" if t.verified else "INVALID",
                      "yes" if t.rollback else "no")
    console.print(lists if snap.trust_lists else "No CTL or ITL served (pre-8.0 cluster?)")
    certs = Table(title="Certificates in the trust lists")
    for column in ("in", "roles", "subject", "serial", "expires", "days left"):
        certs.add_column(column)
    for c in snap.certificates:
        style = {"expired": "bold red", "expiring": "yellow"}.get(c.state, "")
        certs.add_row(c.where, c.roles, c.subject, c.serial, c.not_after, str(c.days_left),
                      style=style)
    console.print(certs)
    for server in snap.tvs:
        if server.error:
            console.print(f"TVS {server.server}: unreachable ({server.error})")
        else:
            console.print(f"TVS {server.server}: presents {server.presented} "
                          f"({'in' if server.in_itl else 'NOT in'} the ITL); vouches for the "
                          f"TFTP signer: {server.vouches_for_tftp}")
    table = Table(title=f"Plan: {', '.join(s.value for s in result.plan)}")
    for column in ("phone", "model", "predicted", "why"):
        table.add_column(column)
    for p in result.predictions:
        style = "bold red" if p.state == "stranded" else ""
        table.add_row(p.phone, p.model, p.state, p.reason, style=style)
    console.print(table)
    safe_stranded = sum(p.state == "stranded" for p in result.safe_predictions)
    console.print(f"Safe order: {', '.join(s.value for s in result.safe_plan)} "
                  f"(predicted: {safe_stranded} stranded)")


def dump_json(result: PreflightResult) -> str:
    return json.dumps(result.as_json(), indent=2, default=str)
