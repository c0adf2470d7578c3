"""The mutant-order plugin (tests/mutation/mutant_order.py): tests that killed mutants of
the same function first, then any killers, each quickest kill first, then the shortest
by mutmut's recorded times;
under `-x` a cheap failing test ends the run before a long one starts. It records which
test killed a mutant, only under a mutant, once per run; with no usable files it leaves
pytest's order alone, and it never drops or adds a test."""

from __future__ import annotations

import json

import pytest

from tests.mutation import mutant_order

TESTS = """
def test_long():
    pass

def test_unrecorded_a():
    pass

def test_short_fails():
    assert False, "the mutant is noticed"

def test_middle():
    pass

def test_unrecorded_b():
    pass
"""
AS_WRITTEN = ["test_long", "test_unrecorded_a", "test_short_fails", "test_middle",
              "test_unrecorded_b"]
MUTANT = "phone_drivers.emulator.firmware_trust.x_is_stranded__mutmut_4"
SIBLING = "phone_drivers.emulator.firmware_trust.x_is_stranded__mutmut_9"
STRANGER = "phone_drivers.emulator.trust_state.x_capf_settings__mutmut_2"


@pytest.fixture(autouse=True)
def no_mutant(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pass 2 runs this file under a mutant: each test names its own (or none)."""
    monkeypatch.delenv("MUTANT_UNDER_TEST", raising=False)


def run_order(pytester: pytest.Pytester, *args: str) -> list[str]:
    pytester.makepyfile(test_order=TESTS)
    result = pytester.runpytest("-v", "-p", "no:randomly", "-p", "no:cacheprovider", *args,
                                plugins=[mutant_order])
    names = [line.split("::")[1].split()[0] for line in result.outlines
             if line.startswith("test_order.py::")]
    return list(dict.fromkeys(names))  # a test whose teardown fails too has a second line


def write_stats(pytester: pytest.Pytester, durations: dict[str, object]) -> None:
    (pytester.path / mutant_order.STATS_FILE).write_text(json.dumps(
        {"tests_by_mangled_function_name": {}, "stats_time": 1.0,
         "duration_by_test": {f"test_order.py::{k}": v for k, v in durations.items()}}))


def write_kills(pytester: pytest.Pytester, kills: list[tuple[str, str, float]]) -> None:
    (pytester.path / mutant_order.KILLS_FILE).write_text(
        "".join(f"{m}\ttest_order.py::{t}\t{s}\n" for m, t, s in kills))


def kills_file(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / mutant_order.KILLS_FILE
    return path.read_text().splitlines() if path.exists() else []


def test_recorded_tests_run_shortest_first_and_unrecorded_ones_last(
        pytester: pytest.Pytester) -> None:
    write_stats(pytester, {"test_long": 20.0, "test_short_fails": 0.5, "test_middle": 2.0})
    assert run_order(pytester) == ["test_short_fails", "test_middle", "test_long",
                                   "test_unrecorded_a", "test_unrecorded_b"]


def test_under_x_the_short_failing_test_ends_the_run_before_the_long_one(
        pytester: pytest.Pytester) -> None:
    write_stats(pytester, {"test_long": 20.0, "test_short_fails": 0.5, "test_middle": 2.0})
    assert run_order(pytester, "-x") == ["test_short_fails"]


def test_killers_of_the_same_function_run_first_then_other_killers_quickest_first(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stats(pytester, {"test_long": 20.0, "test_short_fails": 0.5, "test_middle": 2.0})
    write_kills(pytester, [(STRANGER, "test_middle", 1.0), (STRANGER, "test_unrecorded_a", 30.0),
                           (SIBLING, "test_long", 21.0), (SIBLING, "test_unrecorded_b", 3.0),
                           (SIBLING, "test_unrecorded_b", 5.0), ("not a mutant", "test_long", 0)])
    with (pytester.path / mutant_order.KILLS_FILE).open("a") as kills:
        kills.write(f"garbage\n{STRANGER}\t\t1\n{SIBLING}\ttest_order.py::test_middle\t-1\n"
                    f"{SIBLING}\ttest_order.py::test_middle\tslow\n{SIBLING}\ttest_order.py::test_m")
    monkeypatch.setenv("MUTANT_UNDER_TEST", MUTANT)
    assert run_order(pytester) == ["test_unrecorded_b", "test_long",  # same function: 4 s, 21 s
                                   "test_middle", "test_unrecorded_a",  # others: 1 s, 30 s
                                   "test_short_fails"]  # never killed: by recorded time


def test_the_first_failure_under_a_mutant_is_recorded_once(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUTANT_UNDER_TEST", MUTANT)
    write_stats(pytester, {"test_short_fails": 0.5})
    pytester.makeconftest("""
import pytest

@pytest.fixture(autouse=True)
def broken_teardown():
    yield
    raise RuntimeError("the teardown fails as well")
""")
    assert run_order(pytester, "-x") == ["test_short_fails"]  # its call and teardown fail
    [line] = kills_file(pytester)
    mutant, test, seconds = line.split("\t")
    assert (mutant, test) == (MUTANT, "test_order.py::test_short_fails") and float(seconds) >= 0


def test_failures_outside_a_mutant_are_not_recorded(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUTANT_UNDER_TEST", "fail")  # mutmut's forced-fail run
    assert run_order(pytester) == AS_WRITTEN
    assert kills_file(pytester) == []


def test_without_stats_the_collected_order_stands(pytester: pytest.Pytester) -> None:
    assert run_order(pytester) == AS_WRITTEN


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"duration_by_test": 3}'])
def test_an_unreadable_stats_file_leaves_the_order_alone(pytester: pytest.Pytester,
                                                         content: str) -> None:
    (pytester.path / mutant_order.STATS_FILE).write_text(content)
    assert run_order(pytester) == AS_WRITTEN


def test_a_non_numeric_duration_counts_as_unrecorded(pytester: pytest.Pytester) -> None:
    write_stats(pytester, {"test_long": "slow", "test_middle": 2.0})
    assert run_order(pytester) == ["test_middle", "test_long", "test_unrecorded_a",
                                   "test_short_fails", "test_unrecorded_b"]
