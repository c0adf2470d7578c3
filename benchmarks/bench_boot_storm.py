"""Boot storm: power N twin phones at once against a real cluster and time every boot.

Why: a cluster-wide reset (or a PoE switch coming back) boots a whole site at once;
the twin must stand that up on a laptop, so this says how many phones per second
one harness boots and what each costs in memory. Each phone does the full
Security-by-Default boot with the `fast` profile over real sockets: CTL request
(answered "not found": the generated cluster is non-secure, the Security-by-Default
case), ITL (trusted on first use), signed config verified against it, HTTPS services
certificate checked through a TLS VERIFY to TVS, then SIP REGISTER.

A phone is ok when its timeline shows every step (ITL accepted, signed config accepted,
TVS VERIFY answered OK, HTTPS server trusted, registered) and `phone.ready`; boot time
is `phone.power` → `phone.ready` on the timeline (p50/p99 over ready phones); peak
RSS is the sum of both processes' peaks. The cluster (TFTP, TVS, CAPF, HTTPS, SIP)
runs in a child process, the phones on one asyncio loop in this process, so each
side has a core and a GIL. Phones run without console ptys and without MICs (nothing
in this boot needs them). Bounded: the storm stops at `--timeout` whatever happens;
phones not ready by then fail.

    python benchmarks/bench_boot_storm.py [--phones 1000] [--timeout 120]

The last line is machine-readable:
    boot_storm phones=<n> ok=<n> failed=<n> wall_s=<x> p99_s=<x> peak_rss_mb=<x>
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from _common import ClusterProcess, machine_load, peak_rss_mb, percentile, raise_nofile, rss_mb

from harness.aio import BackgroundLoop
from harness.events import Event, EventLog
from lab_topology import phone_address
from phone_drivers.emulator.phone import TwinPhone
from phone_drivers.emulator.profiles import profile as timing
from phone_drivers.emulator.trust_state import PhoneIdentity


@dataclass(frozen=True)
class StormResult:
    phones: int
    ok: int
    failed: int
    wall_s: float
    p50_s: float
    p99_s: float
    peak_rss_mb: float  # phones process + cluster process

    def line(self) -> str:
        return (f"boot_storm phones={self.phones} ok={self.ok} failed={self.failed} "
                f"wall_s={self.wall_s:.2f} p99_s={self.p99_s:.2f} "
                f"peak_rss_mb={self.peak_rss_mb:.1f}")


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


def _complete(events: EventLog) -> set[str]:
    """Phones whose timeline shows the whole boot: ITL accepted, signed config accepted,
    a TVS VERIFY answered OK, the HTTPS server trusted, registered, ready."""
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
    wanted = {"itl", "config", "tvs", "https", "registered", "ready"}
    return {phone for phone, seen in steps.items() if seen >= wanted}


def storm(phones: int, *, timeout: float = 120.0, profile: str = "fast",
          quiet: bool = False) -> StormResult:
    """Run one storm of `phones` phones; every wait is bounded by `timeout`."""
    say = (lambda *_a: None) if quiet else print
    raise_nofile()
    say(f"machine: {machine_load()}")
    with ClusterProcess(phones, idle_limit=timeout + 120) as cluster:
        info = cluster.info
        assert info is not None
        say(f"cluster up in {info.setup_s:.1f} s (child process): {info.files} files on TFTP "
            f"{info.tftp[0][0]}:{info.tftp[0][1]}")
        lab = cluster.lab
        rack = lab.racks[0]
        events, watch = EventLog(), _Watch(phones)
        events.subscribe(watch)
        base_rss = rss_mb()
        with BackgroundLoop("boot-storm") as loop:
            twins = [TwinPhone(PhoneIdentity(spec.name[3:], spec.model),
                               address=str(phone_address(lab, rack, spec)), tftp_servers=info.tftp,
                               events=events, loop=loop.loop, profile=timing(profile),
                               protocol=spec.protocol, console=False)
                     for spec in rack.phones]
            cpu, start = time.process_time(), time.time()
            for twin in twins:
                twin.power_on()
            watch.all_ready.wait(timeout)
            end = max(watch.ready.values(), default=time.time())
            cpu = time.process_time() - cpu
            for twin in twins:
                twin.close()
        report = cluster.stop()
    complete = _complete(events)
    boots = [watch.ready[n] - watch.powered[n] for n in watch.ready if n in watch.powered]
    ok = sum(1 for twin in twins if twin.name in watch.ready and twin.name in complete)
    phones_peak = peak_rss_mb()
    peak = phones_peak + report.peak_rss_mb
    result = StormResult(phones, ok, phones - ok, end - start, percentile(boots, 50),
                         percentile(boots, 99), peak)
    say(f"{phones} phones ({profile} profile, no consoles, no MICs): {ok} ok, "
        f"{phones - ok} failed; wall {result.wall_s:.2f} s = "
        f"{ok / max(result.wall_s, 1e-9):.0f} phones/s")
    say(f"boot time power-on -> phone.ready: p50 {result.p50_s:.2f} s, "
        f"p99 {result.p99_s:.2f} s, max {max(boots, default=math.nan):.2f} s")
    say(f"CPU: phones process {cpu:.1f} s ({cpu * 1e3 / phones:.1f} ms per phone), "
        f"cluster process {report.cpu_s:.1f} s, over {result.wall_s:.1f} s on 2 cores")
    say(f"peak RSS: phones process {phones_peak:.0f} MB ({base_rss:.0f} MB before the "
        f"phones), cluster process {report.peak_rss_mb:.0f} MB: {peak * 1024 / phones:.0f} KB "
        f"per phone in all, {(phones_peak - base_rss) * 1024 / phones:.0f} KB added per twin")
    say("cluster saw: " + ", ".join(f"{k}={v}" for k, v in sorted(report.events.items())
                                    if not k.startswith("cluster.")))
    say("TFTP results: " + ", ".join(f"{k}={v}" for k, v in sorted(report.tftp_results.items())))
    hiccups = {k: v for k, v in watch.kinds.items()
               if k in ("phone.retry", "phone.tftp_timeout", "phone.tftp_error")}
    say(f"phone events: {sum(watch.kinds.values())}; retries/timeouts: {hiccups or 'none'}")
    for line in report.errors:
        say(f"  cluster error: {line}")
    say(f"machine: {machine_load()}")
    return result


def main(argv: Sequence[str] | None = None) -> StormResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=1000, help="twin phones powered at once")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds after power-on before unready phones count as failed")
    parser.add_argument("--profile", default="fast", help="twin timing profile")
    options = parser.parse_args(argv)
    result = storm(options.phones, timeout=options.timeout, profile=options.profile)
    print(result.line())
    return result


if __name__ == "__main__":
    main()
