"""Run a mutant's tests in the order most likely to end the run early: the tests that
killed mutants before first, then the shortest.

mutmut 3 sorts its mutants cheapest first, but hands pytest each mutant's tests as an
unordered set and stops at the first failure (`-x`). In pass 1 of scripts/mutation.sh
almost every function of the firmware model is reached by every lab scenario (51 of
them, about 1 s each plus a 17-s lossy boot), so a mutant only a few scenarios notice
used to run half the set, on average, before one of them failed. mutmut does not say
which test killed a mutant, so this plugin keeps that itself: when a test fails while
`MUTANT_UNDER_TEST` names a mutant, it appends the mutant and the test to
`mutmut-kills.txt` in the rootdir (mutmut's `mutants/` copy; one short `O_APPEND`
write, safe for parallel jobs). Each run then sorts its items by

1. how many mutants of the same function the test killed (mutants of one function
   run one after the other, and what broke one usually breaks the next),
2. how many mutants it killed in all,
3. the call time mutmut recorded in its statistics run (`mutmut-stats.json`),
   unrecorded tests last,

a stable sort, so ties keep pytest's order. It changes which test runs first, never
which tests run, so a verdict is the same in any order. Only scripts/mutation.sh
loads it (`-p`); without the two files (the statistics run itself) the order stands.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Generator, Iterable
from pathlib import Path

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


def recorded_kills(rootdir: Path) -> list[tuple[str, str]]:
    """(mutant, test) per kill recorded so far; malformed lines are skipped."""
    try:
        text = (rootdir / KILLS_FILE).read_text(errors="replace")
    except OSError:
        return []
    kills = []
    for line in text.splitlines():
        mutant, tab, test = line.partition("\t")
        if tab and MUTANT_MARK in mutant and test:
            kills.append((mutant, test))
    return kills


def kill_first(items: list[pytest.Item], durations: dict[str, float],
               kills: Iterable[tuple[str, str]], mutant: str) -> list[pytest.Item]:
    """`items` in the order of the module docstring for a run of `mutant`."""
    function = function_of(mutant) if MUTANT_MARK in mutant else None
    same: Counter[str] = Counter()
    everywhere: Counter[str] = Counter()
    for killed, test in kills:
        everywhere[test] += 1
        if function is not None and function_of(killed) == function:
            same[test] += 1
    unknown = float("inf")
    return sorted(items, key=lambda item: (-same[item.nodeid], -everywhere[item.nodeid],
                                           durations.get(item.nodeid, unknown)))


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
        line = f"{mutant}\t{report.nodeid}\n".encode()
        fd = os.open(item.config.rootpath / KILLS_FILE,
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return report
