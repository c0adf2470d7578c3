"""Run a storm: phones started along the ramp on one asyncio loop per process.

Bounded: the whole storm ends at `plan.timeout` whatever the servers do; phones not
done by then fail in the stage they were in ("storm timeout"). More phones than one
core can drive are spread over worker processes (`processes`), each running its
share of phone indexes on its own loop and sending back the outcomes, with progress
counts on a queue so the caller's progress bar covers every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import queue
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.storm.outcome import PhoneOutcome
from harness.storm.phone import StormPhone
from harness.storm.plan import StormPlan

Progress = Callable[[int, int], None]  # (phones done, of which failed)
PROGRESS_EVERY = 0.25  # seconds between progress reports
SETTLE = 0.5  # seconds to wait for stopped phones to unwind


@dataclass
class StormRun:
    """Every phone's outcome, the storm's start (epoch) and each process's peak RSS."""

    plan: StormPlan
    started: float
    outcomes: list[PhoneOutcome]
    peak_rss_mb: list[float]


async def _run_share(plan: StormPlan, indexes: Sequence[int], started: float,
                     progress: Progress | None) -> list[PhoneOutcome]:
    addresses = plan.addresses()
    address_of = {}
    for index in range(max(indexes, default=-1) + 1):
        address = next(addresses)
        if index in indexes:
            address_of[index] = address
    phones = [StormPhone(plan, i, address_of[i]) for i in indexes]
    done = [0, 0]

    async def one(phone: StormPhone, index: int) -> None:
        delay = started + plan.start_offset(index) - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        outcome = await phone.boot()
        done[0] += 1
        done[1] += not outcome.ok

    tasks = [asyncio.ensure_future(one(p, i)) for p, i in zip(phones, indexes, strict=True)]
    deadline = started + plan.timeout
    pending: set[asyncio.Future[None]] = set(tasks)
    while pending and time.time() < deadline:
        _, pending = await asyncio.wait(
            pending, timeout=min(PROGRESS_EVERY, max(0.0, deadline - time.time())))
        if progress is not None:
            progress(done[0], done[1])
    for task in pending:
        task.cancel()
    for phone in phones:
        phone.stop(f"not done {plan.timeout:g} s after the storm started")
    if pending:
        await asyncio.wait(pending, timeout=SETTLE)
    for phone in phones:
        phone.close()
    if progress is not None:
        progress(len(phones), sum(not p.outcome.ok for p in phones))
    return [p.outcome for p in phones]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_storm(plan: StormPlan, *, processes: int = 1,
              progress: Progress | None = None) -> StormRun:
    """Run the storm and return every phone's outcome (in phone order)."""
    _raise_nofile()
    if processes <= 1:
        started = time.time()
        outcomes = asyncio.run(_run_share(plan, range(plan.phones), started, progress))
        return StormRun(plan, started, outcomes, [peak_rss_mb()])
    return _run_spread(plan, processes, progress)


def _worker(plan: StormPlan, share: int, processes: int, started: float,
            updates: Any, results: Any) -> None:
    _raise_nofile()
    indexes = range(share, plan.phones, processes)

    def report(done: int, failed: int) -> None:
        with contextlib.suppress(Exception):
            updates.put_nowait((share, done, failed))

    outcomes = asyncio.run(_run_share(plan, indexes, started, report))
    results.put((share, outcomes, peak_rss_mb()))


def _run_spread(plan: StormPlan, processes: int, progress: Progress | None) -> StormRun:
    ctx = mp.get_context("spawn")  # no fork of a process that may hold threads
    updates, results = ctx.Queue(), ctx.Queue()
    started = time.time() + 1.5 + 0.1 * processes  # let the workers import and get ready
    workers = [ctx.Process(target=_worker, args=(plan, k, processes, started, updates, results),
                           name=f"storm-{k}", daemon=True) for k in range(processes)]
    for worker in workers:
        worker.start()
    counts: dict[int, tuple[int, int]] = {}
    got: dict[int, tuple[list[PhoneOutcome], float]] = {}
    deadline = started + plan.timeout + 60
    try:
        while len(got) < processes and time.time() < deadline:
            with contextlib.suppress(queue.Empty):
                while True:
                    share, done, failed = updates.get_nowait()
                    counts[share] = (done, failed)
            with contextlib.suppress(queue.Empty):
                share, outcomes, rss = results.get(timeout=PROGRESS_EVERY)
                got[share] = (outcomes, rss)
            if not any(w.is_alive() for w in workers) and results.empty() and len(got) < processes:
                break
            if progress is not None:
                progress(sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()))
    finally:
        for worker in workers:
            worker.join(5)
            if worker.is_alive():
                worker.kill()
                worker.join(5)
    missing = [k for k in range(processes) if k not in got]
    if missing:
        raise RuntimeError(f"storm worker process(es) {missing} gave no result "
                           f"(exit codes {[workers[k].exitcode for k in missing]})")
    outcomes = sorted((o for share in got.values() for o in share[0]), key=lambda o: o.name)
    return StormRun(plan, started, outcomes, [got[k][1] for k in range(processes)])


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
