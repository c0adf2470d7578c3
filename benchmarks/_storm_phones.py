"""The phone side of the boot-storm benchmark: one process's share of twin phones.

Why apart from bench_boot_storm.py: each phone process (spawned) builds its twins, waits
for the common start time, powers them on and sends back what its timeline shows
(`PhonesReport`); the bench itself runs the cluster, starts these processes and sums
their reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from _common import peak_rss_mb, percentile, raise_nofile

from harness.aio import BackgroundLoop
from harness.events import Event, EventLog
from harness.formats.trustlist import parse_trust_list
from phone_drivers.emulator.config_facts import ConfigFacts, TvsMember
from phone_drivers.emulator.phone import TwinPhone
from phone_drivers.emulator.profiles import TimingProfile
from phone_drivers.emulator.trust_state import PhoneIdentity

EVENTS_PER_PHONE = 40  # timeline window per phone process (a boot leaves ~15-25)
PROGRESS_EVERY = 5.0  # seconds between progress lines
# Phones yield the CPU to the cluster: on a shared host the twin's own load must not be
# what makes the cluster late (real phones bring their own CPUs); it is what they measure.
PHONES_NICE = int(os.environ.get("PHONELAB_STORM_PHONES_NICE", "10"))



@dataclass(frozen=True)
class Seed:
    """Flash a previous boot left: the ITL then served and the TVS its config named."""

    itl: bytes
    tvs: tuple[str, int]


@dataclass
class PhonesReport:
    """What one phone process saw, sent back when its share is done or timed out."""

    index: int
    pid: int
    phones: int
    boots: list[float]  # power -> ready, seconds, complete phones only
    ok: int
    last_ready: float  # epoch; 0 when none
    peak_rss_mb: float
    base_rss_mb: float  # before the twins were built
    cpu_s: float
    kinds: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # last event kind of failed phones
    step_p50: dict[str, float] = field(default_factory=dict)  # s after power-on, ok phones
    ready: int = 0  # phones that reached phone.ready, complete or not


class _Watch:
    """Collects power-on and ready times from the timeline as they are recorded."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.powered: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self.kinds: Counter[str] = Counter()
        self.all_ready = threading.Event()

    def __call__(self, event: Event) -> None:  # runs on the phones' loop thread
        self.kinds[event.kind] += 1
        if event.phone is None:
            return
        if event.kind == "phone.power" and event.data.get("state") == "on":
            self.powered.setdefault(event.phone, event.time)
        elif event.kind == "phone.ready" and event.phone not in self.ready:
            self.ready[event.phone] = event.time
            if len(self.ready) >= self.expected:
                self.all_ready.set()


WANTED = frozenset({"itl", "config", "tvs", "https", "registered", "ready"})


def _complete(events: EventLog) -> dict[str, set[str]]:
    """The steps each phone's timeline shows: ITL accepted, signed config accepted,
    a TVS VERIFY answered OK, the HTTPS server trusted, registered, ready (WANTED)."""
    steps: dict[str, set[str]] = {}
    for e in events:
        if e.phone is None:
            continue
        data = e.data
        step = {"phone.itl": "itl" if data.get("outcome") == "accepted" else "",
                "phone.config": "config" if data.get("outcome") == "accepted"
                and str(data.get("name", "")).endswith(".sgn") else "",
                "phone.tvs": "tvs" if data.get("kind") == "verify"
                and data.get("result") == "ok" else "",
                "phone.https": "https" if data.get("trusted") else "",
                "phone.registered": "registered",
                "phone.ready": "ready"}.get(e.kind, "")
        if step:
            steps.setdefault(e.phone, set()).add(step)
    return steps


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True)
class PhoneSeat:
    """What a phone process needs of one phone record (not the whole lab: ~3 KB each)."""

    name: str
    model: str
    address: str
    protocol: str


def phones_main(index: int, seats: list[PhoneSeat], tftp: list[tuple[str, int]],
                 seed: Seed | None, profile: TimingProfile, timeout: float,
                 conn: Connection) -> None:
    """Phone process: build its share of twins, wait for the start time, power them on."""
    raise_nofile()
    if PHONES_NICE:
        os.nice(PHONES_NICE)
    base = _rss_mb()
    events = EventLog(window=max(10_000, EVENTS_PER_PHONE * len(seats)))
    watch = _Watch(len(seats))
    events.subscribe(watch)
    itl = parse_trust_list(seed.itl) if seed is not None else None
    facts = ConfigFacts(tvs_members=(TvsMember(*seed.tvs),)) if seed is not None else None
    with BackgroundLoop(f"phones-{index}") as loop:
        twins = []
        for seat in seats:
            twin = TwinPhone(PhoneIdentity(seat.name[3:], seat.model), address=seat.address,
                             tftp_servers=tftp, events=events, loop=loop.loop,
                             profile=profile, protocol=seat.protocol, console=False)
            if itl is not None and facts is not None and twin.model_info.supports_sbd:
                twin.firmware.state.itl, twin.firmware.state.config = itl, facts
            twins.append(twin)
        conn.send("ready")
        if not conn.poll(600):
            return
        start_at = float(conn.recv())
        time.sleep(max(0.0, start_at - time.time()))
        cpu = time.process_time()
        for twin in twins:
            twin.power_on()
        deadline = start_at + timeout
        while not watch.all_ready.wait(min(PROGRESS_EVERY, max(0.0, deadline - time.time()))):
            if time.time() >= deadline:
                break
            conn.send(("progress", len(watch.ready)))
        cpu = time.process_time() - cpu
        conn.send(_report(index, len(seats), twins, events, watch, base, cpu))
        for twin in twins:  # power everything off on the loop, bounded: the report is sent
            twin.power_off()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(asyncio.sleep(1.0), loop.loop).result(60)


def _report(index: int, count: int, twins: list[TwinPhone], events: EventLog,
            watch: _Watch, base: float, cpu: float) -> PhonesReport:
    seen = _complete(events)
    names = {t.name for t in twins}
    ok_names = {n for n in names if n in watch.ready and seen.get(n, set()) >= WANTED}
    boots = [watch.ready[n] - watch.powered[n] for n in ok_names if n in watch.powered]
    last: dict[str, str] = {}
    itl_why: dict[str, str] = {}
    steps: dict[str, list[float]] = {}
    for event in events:
        phone = event.phone
        if phone not in names or not event.kind.startswith("phone."):
            continue
        if phone not in ok_names and event.kind == "phone.itl" and event.data.get(
                "outcome") != "accepted":
            itl_why[phone] = f"itl {event.data.get('outcome')}: {event.data.get('reason')}"
        if phone not in ok_names and event.kind not in ("phone.retry", "phone.power"):
            word = event.data.get("outcome") or event.data.get("result") or ""
            missing = ",".join(sorted(WANTED - seen.get(phone, set())))
            why = f"; {itl_why[phone]}" if phone in itl_why else ""
            last[phone] = f"{event.kind}:{word} (missing {missing}{why})"
        elif phone in watch.powered and event.kind not in ("phone.power", "phone.boot"):
            steps.setdefault(event.kind, []).append(event.time - watch.powered[phone])
    return PhonesReport(index, os.getpid(), count, boots, len(ok_names),
                        max(watch.ready.values(), default=0.0), peak_rss_mb(), base, cpu,
                        Counter(watch.kinds), Counter(last.values()),
                        {k: percentile(v, 50) for k, v in steps.items()},
                        sum(1 for n in names if n in watch.ready))
