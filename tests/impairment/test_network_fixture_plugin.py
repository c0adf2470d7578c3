"""The `network` fixture inside a real pytest run of the plugin (nested, on 127.212.*).

What only a whole run shows: the seed reaches the Allure result as a parameter and a
note, and an impairment a test leaves in force is lifted by the lab's teardown, so
the next test on the rack starts with a clean path.
"""

from __future__ import annotations

import json

import pytest

from tests.isolated_lab import isolated_twin_lab

SCENARIOS = '''
HELD = []

def test_leaves_an_outage_in_force(lab, network):
    block = network.outage("tvs", 60.0)  # lifted by itself only after 70 s
    HELD.append((block, block.__enter__()))  # and never left
    from harness.cluster.state import Service
    paths = [e.path for e in lab.cluster.plane.of(Service.TVS)]
    assert paths and all(p.out for p in paths)

def test_the_teardown_lifted_it(lab):
    _, injection = HELD[0]
    assert injection.over and injection.history[-1].what == "lifted", injection.history
    assert injection.history[-1].at < 30

def test_seed_is_recorded(lab):
    with lab.network.impair("tftp", loss=0.2, seed=4711) as injection:
        pass
    assert injection.impairment.seed == 4711
    assert any(e.kind == "network.restored" for e in lab.events.since(0))
'''


@pytest.mark.timeout(180)
def test_fixture_restores_and_records_the_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_faults=SCENARIOS)
    results = pytester.path / "allure"
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}", "-p", "no:cacheprovider",
        "--lab", str(isolated_twin_lab(pytester.path, 212)),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--alluredir", str(results), timeout=170)
    result.assert_outcomes(passed=3)
    recorded = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    seeded = next(r for r in recorded if "test_seed_is_recorded" in r["fullName"])
    parameters = {p["name"]: p for p in seeded.get("parameters", [])}
    assert parameters["network seed (tftp)"]["value"] == "4711", parameters
    assert parameters["network seed (tftp)"].get("excluded") is True, "history id must not "\
        "change with the seed"
    notes = [(results / a["source"]).read_text() for a in seeded.get("attachments", [])
             if a["name"] == "note"]
    assert any("PHONELAB_NETWORK_SEED=4711" in note for note in notes), notes
