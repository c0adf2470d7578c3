"""A scenario's time limit follows the profile's documented waits, never cutting one short."""

from __future__ import annotations

import pytest

from fixtures.lab_run import FAST_TWIN, Bounds, time_limit
from tests.isolated_lab import isolated_twin_lab

SCENARIOS = '''
import pytest

def test_probe(lab):
    pass

@pytest.mark.timeout(7)
def test_explicit(lab):
    pass
'''
PRINT_LIMITS = '''
def pytest_collection_finish(session):
    for item in session.items:
        marker = item.get_closest_marker("timeout")
        print(f"LIMIT {item.name.split('[')[0]} {marker.args[0] if marker else None}")
'''


def test_limits_cover_the_waits_a_scenario_chains() -> None:
    realistic = Bounds()
    assert time_limit(realistic) >= 3 * (realistic.registration + realistic.tftp_rebuild)
    assert time_limit(FAST_TWIN) > 120  # above pytest.ini's limit for unit tests


@pytest.mark.parametrize(("profile", "bounds"), [("fast", FAST_TWIN), ("realistic", Bounds())])
def test_each_scenario_gets_its_profiles_limit(pytester: pytest.Pytester, profile: str,
                                               bounds: Bounds) -> None:
    pytester.makeconftest(PRINT_LIMITS)
    pytester.makepyfile(test_probe=SCENARIOS)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}", "--collect-only", "-q", "-s",
        "--phonelab-profile", profile, "--lab", str(isolated_twin_lab(pytester.path, 69)),
        timeout=60)
    result.stdout.fnmatch_lines([f"LIMIT test_probe {time_limit(bounds)}",
                                 "LIMIT test_explicit 7"])
