"""Run a mutant's tests in the order most likely to end the run early: tests that
killed mutants quickly before, then the shortest.

mutmut 3 sorts its mutants cheapest first, but hands pytest each mutant's tests as an
unordered set and stops at the first failure (`-x`). In pass 1 of scripts/mutation.sh
almost every function of the firmware model is reached by every lab scenario (51 of
them, about 1 s each plus a 17-s lossy boot), and a scenario that notices a mutant by
a phone that never registers fails only at its 20-s bound; so a mutant cost whatever
the set happened to run before the test that noticed it quickly. mutmut does not say
which test killed a mutant, so this plugin keeps that itself: when a test fails while
`MUTANT_UNDER_TEST` names a mutant, it appends the mutant, the test and the seconds
the failing phase took to `mutmut-kills.txt` in the rootdir (mutmut's `mutants/` copy;
one short `O_APPEND` write, safe for parallel jobs). Each run then sorts its items:

1. tests that killed a mutant of the same function (mutants of one function run one
   after the other, and what broke one usually breaks the next), quickest kill first;
2. tests that killed any mutant, quickest kill first;
3. the rest by the call time mutmut recorded in its statistics run
   (`mutmut-stats.json`), unrecorded tests last.

The sort is stable, so ties keep pytest's order. It changes which test runs first,
never which tests run, so a verdict is the same in any order. Only scripts/mutation.sh
loads it (`-p`); without the two files (the statistics run itself) the order stands.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import NamedTuple

import pytest

STATS_FILE = "mutmut-stats.json"
KILLS_FILE = "mutmut-kills.txt"
MUTANT_MARK = "__mutmut_"
_RECORDED = pytest.StashKey[bool]()  # this run's kill is written (a teardown may fail too)


def recorded_durations(rootdir: Path) -> dict[str, float]:
    """Call seconds per test node id from mutmut's statistics run ({} before it)."""
    try:
        data = json.loads((rootdir / STATS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    durations = data.get("duration_by_test") if isinstance(data, dict) else None
    if not isinstance(durations, dict):
        return {}
    return {str(k): float(v) for k, v in durations.items() if isinstance(v, (int, float))}


def function_of(mutant: str) -> str:
    """The mutated function's name: mutmut's mutant name up to `__mutmut_<n>`."""
    return mutant.partition(MUTANT_MARK)[0]


class Kill(NamedTuple):
    mutant: str
    test: str
    seconds: float  # the failing phase (setup, call or teardown)


def recorded_kills(rootdir: Path) -> list[Kill]:
    """The kills recorded so far; malformed lines are skipped."""
    try:
        text = (rootdir / KILLS_FILE).read_text(errors="replace")
    except OSError:
        return []
    kills = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 3 or MUTANT_MARK not in fields[0] or not fields[1]:
            continue
        try:
            seconds = float(fields[2])
        except ValueError:
            continue
        if seconds >= 0:
            kills.append(Kill(fields[0], fields[1], seconds))
    return kills


def _mean_kill_seconds(kills: Iterable[Kill]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    count: Counter[str] = Counter()
    for kill in kills:
        total[kill.test] += kill.seconds
        count[kill.test] += 1
    return {test: total[test] / count[test] for test in count}


def kill_first(items: list[pytest.Item], durations: dict[str, float],
               kills: Iterable[Kill], mutant: str) -> list[pytest.Item]:
    """`items` in the order of the module docstring for a run of `mutant`."""
    kills = list(kills)
    function = function_of(mutant) if MUTANT_MARK in mutant else None
    same = _mean_kill_seconds(k for k in kills if function_of(k.mutant) == function)
    anywhere = _mean_kill_seconds(kills)
    unknown = float("inf")

    def key(item: pytest.Item) -> tuple[int, float]:
        if item.nodeid in same:
            return 0, same[item.nodeid]
        if item.nodeid in anywhere:
            return 1, anywhere[item.nodeid]
        return 2, durations.get(item.nodeid, unknown)

    return sorted(items, key=key)


def _mutant() -> str:
    return os.environ.get("MUTANT_UNDER_TEST", "")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    durations = recorded_durations(config.rootpath)
    kills = recorded_kills(config.rootpath)
    if durations or kills:
        items[:] = kill_first(items, durations, kills, _mutant())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test under a mutant killed it: remember which test did."""
    report = yield
    mutant = _mutant()
    if report.failed and MUTANT_MARK in mutant and not item.config.stash.get(_RECORDED, False):
        item.config.stash[_RECORDED] = True
        line = f"{mutant}\t{report.nodeid}\t{report.duration:.3f}\n".encode()
        fd = os.open(item.config.rootpath / KILLS_FILE,
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return report
