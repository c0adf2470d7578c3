"""Turn a storm's outcomes into the figures people read: percentiles, failures, throughput.

One JSON-ready dict (`summarize`) feeds the console tables, `--json`, the file next to
the plot and the last line, so they can never disagree.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from harness.storm.outcome import STAGES, PhoneOutcome
from harness.storm.run import StormRun

MAX_BUCKETS = 60  # throughput timeline resolution: 0.1 s buckets, wider for longer storms


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _stats(values: Sequence[float]) -> dict[str, float | int | None]:
    def r(x: float) -> float | None:
        return None if math.isnan(x) else round(x, 4)
    return {"count": len(values), "p50_s": r(percentile(values, 50)),
            "p90_s": r(percentile(values, 90)), "p99_s": r(percentile(values, 99)),
            "max_s": r(max(values)) if values else None}


def stage_seconds(outcomes: Sequence[PhoneOutcome]) -> dict[str, list[float]]:
    """Per stage, each phone's total time in it (a stage interrupted by a TVS question
    counts its two parts), for phones that got through the stage."""
    per: dict[str, list[float]] = defaultdict(list)
    for outcome in outcomes:
        totals: dict[str, float] = defaultdict(float)
        failed: set[str] = set()
        for stage in outcome.stages:
            totals[stage.stage] += stage.seconds
            if not stage.ok:
                failed.add(stage.stage)
        for name, seconds in totals.items():
            if name not in failed:
                per[name].append(seconds)
    return per


def _bucket_width(wall: float) -> float:
    """The smallest of 0.1, 0.2, 0.5, 1, 2, 5, 10 … seconds giving at most MAX_BUCKETS."""
    scale = 0.1
    while True:
        for step in (1, 2, 5):
            if wall / (step * scale) <= MAX_BUCKETS:
                return round(step * scale, 3)
        scale *= 10


def timeline(run: StormRun, wall: float) -> dict[str, Any]:
    """Completions per bucket: phones ok and failed, and stages finished, by stage."""
    width = _bucket_width(wall)
    count = max(1, math.ceil(wall / width))
    ok, failed = [0] * count, [0] * count
    stages: dict[str, list[int]] = {s: [0] * count for s in STAGES}

    def slot(t: float) -> int:
        return min(count - 1, max(0, int((t - run.started) // width)))

    for outcome in run.outcomes:
        (ok if outcome.ok else failed)[slot(outcome.end)] += 1
        finished = {s.stage: s.end for s in outcome.stages if s.ok}  # a stage's last part
        for stage, end in finished.items():
            if stage in stages and not any(s.stage == stage and not s.ok
                                           for s in outcome.stages):
                stages[stage][slot(end)] += 1
    used = {s: v for s, v in stages.items() if any(v)}
    return {"bucket_s": width, "ok": ok, "failed": failed, "stages": used}


def summarize(run: StormRun) -> dict[str, Any]:
    outcomes = run.outcomes
    good = [o for o in outcomes if o.ok]
    end = max((o.end for o in outcomes), default=run.started)
    wall = max(0.0, end - run.started)
    boots = [o.seconds for o in good]
    per_stage = stage_seconds(outcomes)
    failures = [o.failure for o in outcomes if o.failure is not None]
    by_cause = Counter(f"{f.stage}: {f.cause}" for f in failures)
    by_server = Counter(f"{f.server or '-'} ({f.stage})" for f in failures)
    hiccups = Counter(f"{h.server} ({h.stage}: {h.cause})" for o in outcomes for h in o.hiccups)
    examples: dict[str, str] = {}
    for f in failures:
        examples.setdefault(f"{f.stage}: {f.cause}", f.detail)
    plan = run.plan
    return {
        "phones": len(outcomes), "ok": len(good), "failed": len(outcomes) - len(good),
        "wall_s": round(wall, 3), "boot": _stats(boots),
        "phones_per_s": round(len(good) / wall, 1) if wall > 0 else None,
        "stages": {s: _stats(per_stage[s]) for s in STAGES if s in per_stage},
        "failures_by_cause": dict(by_cause.most_common()),
        "failures_by_server": dict(by_server.most_common()),
        "failure_examples": examples,
        "server_hiccups": dict(hiccups.most_common()),
        "throughput": timeline(run, wall),
        "peak_rss_mb": [round(x, 1) for x in run.peak_rss_mb],
        "plan": {"tftp": [f"{h}:{p}" for h, p in plan.tftp],
                 "tvs": [f"{h}:{p}" for h, p in plan.tvs], "https": plan.https,
                 "sip": f"{plan.sip[0]}:{plan.sip[1]}" if plan.sip else None,
                 "models": list(plan.models), "ramp_s": plan.ramp, "timeout_s": plan.timeout,
                 "first_phone": f"SEP{plan.mac(0)}", "source": plan.source},
    }


def last_line(summary: dict[str, Any]) -> str:
    def f(x: float | None) -> str:
        return "nan" if x is None else f"{x:.2f}"
    boot = summary["boot"]
    return (f"storm phones={summary['phones']} ok={summary['ok']} failed={summary['failed']} "
            f"wall_s={summary['wall_s']:.2f} p50_s={f(boot['p50_s'])} p99_s={f(boot['p99_s'])}")
