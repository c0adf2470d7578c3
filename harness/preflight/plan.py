"""The steps a preflight plan may name, their meaning on a cluster, and the safe order.

Each step is one of the documented procedure steps (docs/SECURITY_BY_DEFAULT.md §6-§10),
carried out by the very `Cluster` procedures the lab scenarios use, so a prediction
and a real run cannot disagree about what a step does. The safe order is the
documented one: finish the TFTP certificate (through the phone reset) before the
TVS one, CAPF after, and prepare a rollback before switching versions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from harness.cluster.cluster import Cluster
from harness.cluster.state import Param, SecurityMode
from harness.errors import UsageError

PRE_8_RELEASE = "7.1(5)"
BACKUP_PASSPHRASE = "preflight-shadow"  # the shadow cluster's own backup; never a real one


class Step(StrEnum):
    REGENERATE_TFTP = "regenerate-tftp"
    REGENERATE_TVS = "regenerate-tvs"
    REGENERATE_CAPF = "regenerate-capf"
    RESTART_TFTP = "restart-tftp"
    RESET_PHONES = "reset-phones"
    RESTORE_BACKUP = "restore-backup"
    PREPARE_ROLLBACK = "prepare-rollback"
    ROLLBACK = "rollback"
    RETURN_TO_8_0 = "return-to-8.0"
    ENABLE_MIXED_MODE = "enable-mixed-mode"
    CTL_CLIENT = "ctl-client"


def parse_plan(text: str) -> list[Step]:
    """`regenerate-tftp,restart-tftp,reset-phones` → steps; UsageError naming a bad one."""
    steps = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        try:
            steps.append(Step(raw.lower()))
        except ValueError:
            known = ", ".join(s.value for s in Step)
            raise UsageError(f"--plan: unknown step {raw!r}; steps are: {known}") from None
    if not steps:
        raise UsageError("--plan names no step (e.g. regenerate-tftp,restart-tftp,reset-phones)")
    return steps


def safe_order(steps: list[Step], *, mixed: bool) -> list[Step]:
    """The documented order that reaches the same goal without stranding phones."""
    goal = set(steps)
    plan: list[Step] = []
    ctl = [Step.CTL_CLIENT] if mixed or Step.ENABLE_MIXED_MODE in goal else []
    if Step.ENABLE_MIXED_MODE in goal:
        plan += [Step.ENABLE_MIXED_MODE, Step.RESTART_TFTP, Step.RESET_PHONES]
    if Step.RESTORE_BACKUP in goal:
        plan += [Step.RESTORE_BACKUP, Step.RESTART_TFTP, Step.RESET_PHONES]
    if Step.REGENERATE_TFTP in goal:
        plan += [Step.REGENERATE_TFTP, *ctl, Step.RESTART_TFTP, Step.RESET_PHONES]
    if Step.REGENERATE_TVS in goal:
        plan += [Step.REGENERATE_TVS, Step.RESTART_TFTP, Step.RESET_PHONES]
    if Step.REGENERATE_CAPF in goal:
        plan += [Step.REGENERATE_CAPF, Step.RESTART_TFTP, Step.RESET_PHONES]
    if Step.ROLLBACK in goal:
        plan += [Step.PREPARE_ROLLBACK, Step.RESET_PHONES, Step.ROLLBACK, Step.RESET_PHONES]
    elif Step.PREPARE_ROLLBACK in goal:
        plan += [Step.PREPARE_ROLLBACK, Step.RESET_PHONES]
    if Step.RETURN_TO_8_0 in goal:
        plan += [Step.RETURN_TO_8_0, Step.RESET_PHONES]
    if Step.CTL_CLIENT in goal and Step.CTL_CLIENT not in plan:
        plan += [Step.CTL_CLIENT, Step.RESTART_TFTP, Step.RESET_PHONES]
    if not plan or plan[-1] is not Step.RESET_PHONES:
        plan += [Step.RESTART_TFTP, Step.RESET_PHONES]
    return plan


class PlanRunner:
    """Carries out steps on a cluster; `reset` resets every phone and waits for it."""

    def __init__(self, cluster: Cluster, reset: Callable[[], None]) -> None:
        self.cluster, self.reset = cluster, reset
        self._dir = Path(tempfile.mkdtemp(prefix="phonelab-preflight-"))
        self._backup = self._dir / "before-plan.bak"
        cluster.backup(self._backup, BACKUP_PASSPHRASE)  # what "restore-backup" brings back

    def run(self, step: Step) -> None:
        cluster = self.cluster
        if step is Step.REGENERATE_TFTP:
            cluster.regenerate_certificate("tftp")
        elif step is Step.REGENERATE_TVS:
            cluster.regenerate_certificate("tvs")
        elif step is Step.REGENERATE_CAPF:
            cluster.regenerate_certificate("capf")
            cluster.restart_service("capf")
        elif step is Step.RESTART_TFTP:
            cluster.restart_service("tftp")
        elif step is Step.RESET_PHONES:
            self.reset()
        elif step is Step.RESTORE_BACKUP:
            cluster.restore(self._backup, BACKUP_PASSPHRASE)
        elif step is Step.PREPARE_ROLLBACK:
            cluster.set_parameter(Param.PREPARE_ROLLBACK, True)
            cluster.restart_service("tvs")
            cluster.restart_service("tftp")
        elif step is Step.ROLLBACK:
            cluster.switch_version(PRE_8_RELEASE)
        elif step is Step.RETURN_TO_8_0:
            cluster.switch_version("8.0")
            cluster.set_parameter(Param.PREPARE_ROLLBACK, False)
            cluster.restart_service("tvs")
            cluster.restart_service("tftp")
        elif step in (Step.ENABLE_MIXED_MODE, Step.CTL_CLIENT):
            if step is Step.CTL_CLIENT and cluster.state.mode is not SecurityMode.MIXED:
                return  # the CTL client only matters in mixed mode
            cluster.run_ctl_client()
