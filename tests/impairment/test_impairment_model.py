"""The impairment model on its own: validation, seeded draws, the outage clock and limit."""

from __future__ import annotations

import math
import threading
import time

import pytest

from harness.errors import UsageError
from harness.services.impairment import Draws, Impairment, Injection, Outage


class Recorder:
    """An Applier that writes down what it was told, with the time (a probe, not a mock:
    the twin's and netem's appliers are tested against real sockets elsewhere)."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []
        self.began = time.monotonic()

    def apply(self, impairment: Impairment, draws: Draws, *, out: bool) -> None:
        self.calls.append((time.monotonic() - self.began, "out" if out else "in"))

    def lost(self) -> int:
        return 3

    def lift(self) -> None:
        self.calls.append((time.monotonic() - self.began, "lift"))


@pytest.mark.parametrize("fields", [
    {"service": "ftp"}, {"service": "tftp", "loss": 1.5}, {"service": "tftp", "loss": -0.1},
    {"service": "tftp", "loss": math.nan}, {"service": "tftp", "delay": -1},
    {"service": "tftp", "limit": 0}, {"service": "tftp", "limit": 1e9},
    {"service": "tvs", "outage": Outage(5, start=70), "limit": 60},
])
def test_bad_impairments_are_usage_errors(fields: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        Impairment(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("args", [(0,), (-1,), (math.inf,), (1, -1), (1, 0, 0)])
def test_bad_outages_are_usage_errors(args: tuple[float, ...]) -> None:
    with pytest.raises(UsageError):
        Outage(*args)  # type: ignore[arg-type]


def test_description_names_service_seed_and_limit() -> None:
    text = Impairment("tftp", loss=0.3, delay=0.05, seed=7, limit=20).describe()
    assert text == "tftp: loss 30 %, delay 50 ms; seed 7; lifted after 20 s at most"


def test_seeded_loss_ratio_is_within_binomial_bounds() -> None:
    n, p = 20_000, 0.3
    draws = Draws(1234)
    lost = sum(draws.chance(f"127.0.0.{i % 50}", i.to_bytes(4, "big")) < p for i in range(n))
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(lost - n * p) < 5 * sigma, lost


def test_draws_repeat_for_a_seed_and_ignore_interleaving() -> None:
    packets = [(f"127.0.0.{i % 3}", bytes([i % 7])) for i in range(300)]
    first = Draws(99)
    a = [first.chance(peer, data) for peer, data in packets]
    # another order: each phone's own sequence is kept, phones interleave differently
    second = Draws(99)
    by_peer: dict[str, list[float]] = {}
    for peer, data in sorted(packets, key=lambda pd: pd[0]):
        by_peer.setdefault(peer, []).append(second.chance(peer, data))
    again = {peer: [x for (p, _), x in zip(packets, a, strict=True) if p == peer]
             for peer in by_peer}
    assert again == by_peer
    assert a != [Draws(100).chance(peer, data) for peer, data in packets]


def test_retransmissions_are_fresh_draws() -> None:
    draws = Draws(5)
    assert len({draws.chance("127.0.0.1", b"same packet") for _ in range(50)}) == 50


def test_outage_window_starts_and_ends_on_time() -> None:
    probe = Recorder()
    injection = Injection(Impairment("tvs", outage=Outage(0.4, start=0.3), limit=5), probe)
    injection.begin()
    try:
        assert not injection.out
        time.sleep(0.45)
        assert injection.out
        time.sleep(0.5)
        assert not injection.out
    finally:
        injection.end()
    whats = [w for _, w in probe.calls]
    assert whats == ["in", "out", "in", "lift"], probe.calls
    out_at, back_at = probe.calls[1][0], probe.calls[2][0]
    late = 0.3  # a shared, loaded machine may wake the clock thread this late
    assert 0.3 <= out_at < 0.3 + late and 0.7 <= back_at < 0.7 + late, probe.calls
    assert [t.what for t in injection.history] == ["applied", "out", "back", "lifted"]
    assert injection.taken == 3  # read from the applier before it was lifted


def test_hard_limit_lifts_an_impairment_nobody_ends() -> None:
    probe = Recorder()
    injection = Injection(Impairment("tftp", loss=1.0, limit=0.3), probe).begin()
    time.sleep(0.8)
    assert injection.over and probe.calls[-1][1] == "lift"
    assert 0.3 <= probe.calls[-1][0] < 0.6, probe.calls
    injection.end()  # idempotent
    assert [w for _, w in probe.calls].count("lift") == 1


def test_limit_cuts_an_outage_short() -> None:
    probe = Recorder()
    injection = Injection(Impairment("capf", outage=Outage(10.0), limit=0.3), probe).begin()
    assert injection.out
    time.sleep(0.8)
    assert injection.over and not injection.out
    assert [w for _, w in probe.calls] == ["out", "lift"]


def test_outage_at_a_connection_waits_for_it() -> None:
    probe = Recorder()
    injection = Injection(Impairment("capf", outage=Outage(0.3, start=0.1, at_connection=2),
                                     limit=5), probe).begin()
    try:
        injection.accepted("127.0.0.9")
        time.sleep(0.3)
        assert not injection.out, "one connection is not the second"
        injection.accepted("127.0.0.9")
        assert not injection.out
        time.sleep(0.15)
        assert injection.out
        time.sleep(0.35)
        assert not injection.out
    finally:
        injection.end()
    assert [w for _, w in probe.calls] == ["in", "out", "in", "lift"]


def test_outage_at_a_connection_with_no_delay_refuses_that_connection() -> None:
    probe = Recorder()
    injection = Injection(Impairment("tvs", outage=Outage(0.3, at_connection=1), limit=5),
                          probe).begin()
    try:
        injection.accepted("127.0.0.9")
        assert injection.out  # at once, before the caller looks at the path
    finally:
        injection.end()


def test_end_from_another_thread_while_out() -> None:
    probe = Recorder()
    injection = Injection(Impairment("tvs", outage=Outage(30.0), limit=60), probe).begin()
    ender = threading.Thread(target=injection.end)
    ender.start()
    ender.join(timeout=5)
    assert not ender.is_alive() and injection.over and not injection.out
