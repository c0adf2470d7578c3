"""Boot storm: a cluster-wide reset of N twin phones against a multi-core cluster.

Why: "reset all phones" after a certificate change boots a whole site at once; CUCM
clusters hold tens of thousands of phones. The question is whether TFTP and TVS survive
it, so this runs the documented case on every core: the TFTP certificate was
regenerated and TFTP restarted (`--after regenerate-tftp`, the default), and every
phone, still holding the ITL signed by the old certificate and the TVS address from its
last config (the flash a previous boot leaves, seeded from the files the cluster built
before the regeneration), resets at once. Each phone: CTL request (answered "not found":
non-secure cluster), the new ITL, whose signer it only trusts after a TVS QUERY, the
signed config, HTTPS services certificate checked through a TVS VERIFY, registration
(SIP, or SCCP for every other 79xx), all over real sockets with the `fast` profile (no
think time), except that a phone waits as long as a phone does: for TVS (`--tvs-timeout`,
the realistic profile's 10 s) and for each TFTP packet (`--tftp-timeout`, the realistic
profile's 2 s, 4 tries); the fast profile's 5 s and 1 s are CI shortcuts that turn
queueing into failures. `--after none` boots factory-fresh phones instead (trust on
first use, no QUERY).

The cluster runs as `--cluster-workers` replicas sharing every port with SO_REUSEPORT
(harness/cluster/workers.py); the phones are spread over `--phone-procs` processes, one
asyncio loop each (default: as many as descriptors require, at least two). The host's
bound on twin scale is printed before anything starts (phone_drivers/emulator/capacity.py).
A phone is ok when its timeline shows every step (ITL accepted, signed config accepted,
TVS VERIFY answered OK, HTTPS server trusted, registered) and `phone.ready`; boot time
is `phone.power` -> `phone.ready` (p50/p99 over ready phones); peak RSS is summed over
every process (bench, phone processes, cluster workers) and printed per process.
Bounded: the storm stops at `--timeout` whatever happens; phones not ready then fail.

    python benchmarks/bench_boot_storm.py [--phones 1000] [--timeout 120]

The last line is machine-readable:
    boot_storm phones=<n> ok=<n> failed=<n> wall_s=<x> p99_s=<x> peak_rss_mb=<x>
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing as mp
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from _common import machine_load, peak_rss_mb, percentile, raise_nofile
from _storm_phones import PROGRESS_EVERY, PhoneSeat, PhonesReport, Seed, phones_main

from harness.cluster.fileset import ITL, itl_records
from harness.cluster.from_spec import cluster_state
from harness.cluster.state import Service
from harness.cluster.workers import ClusterWorkers
from harness.formats.trustlist import build_trust_list
from harness.pki import CertRole, LabPKI
from lab_topology import LabSpec, phone_address
from lab_topology.generate import twin_lab
from phone_drivers.emulator.capacity import phones_per_process, storm_capacity
from phone_drivers.emulator.profiles import PROFILES, TimingProfile
from phone_drivers.emulator.profiles import profile as timing


@dataclass(frozen=True)
class StormResult:
    phones: int
    ok: int
    failed: int
    wall_s: float
    p50_s: float
    p99_s: float
    peak_rss_mb: float  # every process: bench, phone processes, cluster workers

    def line(self) -> str:
        return (f"boot_storm phones={self.phones} ok={self.ok} failed={self.failed} "
                f"wall_s={self.wall_s:.2f} p99_s={self.p99_s:.2f} "
                f"peak_rss_mb={self.peak_rss_mb:.1f}")



def _seed(pki: LabPKI, lab: LabSpec, tvs_port: int) -> Seed:
    """The ITL the cluster serves now (before the regeneration) and its TVS address."""
    rack = lab.racks[0]  # the ITL names no phone: a one-phone state builds the same one
    state = cluster_state(rack.model_copy(update={"phones": rack.phones[:1]}))
    node = state.nodes[0]
    itl = build_trust_list(itl_records(state, pki, node), pki.identity(CertRole.tftp, node.name),
                           filename=ITL, timestamp=int(time.time()) - 86400)
    return Seed(itl, (str(node.address), tvs_port))


def with_sccp(lab: LabSpec) -> LabSpec:
    """Every other 79xx phone of the twin lab speaks SCCP (a cluster's real mix)."""
    rack = lab.racks[0]
    phones = [p.model_copy(update={"protocol": "SCCP"})
              if p.model.startswith("79") and i % 2 else p for i, p in enumerate(rack.phones)]
    return lab.model_copy(update={"racks": [rack.model_copy(update={"phones": phones}),
                                            *lab.racks[1:]]})


def storm(phones: int, *, timeout: float = 120.0, profile: str = "fast", after: str =
          "regenerate-tftp", cluster_workers: int = 2, phone_procs: int = 0,
          tvs_timeout: float | None = None, tftp_timeout: float | None = None,
          quiet: bool = False) -> StormResult:
    """Run one storm of `phones` phones; every wait is bounded by `timeout`."""
    say = (lambda *_a: None) if quiet else print
    raise_nofile()
    procs = phone_procs or max(2, math.ceil(phones / phones_per_process()))
    procs = min(procs, phones)
    capacity = storm_capacity(procs)
    say(f"machine: {machine_load()}")
    say(capacity.line())
    if phones > capacity.max_phones:
        say(f"{phones} phones exceed that bound ({capacity.limited_by}); expect failures")
    lab = with_sccp(twin_lab(phones))
    rack = lab.racks[0]
    with tempfile.TemporaryDirectory(prefix="phonelab-storm-") as tmp:
        nodes = rack.cluster.nodes
        pki = LabPKI.init(Path(tmp) / "pki", [n.name for n in nodes],
                          addresses={n.name: str(n.address) for n in nodes})
        setup = time.perf_counter()
        workers = ClusterWorkers(rack, Path(tmp) / "pki", workers=cluster_workers,
                                 idle_limit=timeout + 600)
        seed = None
        if after == "regenerate-tftp":
            seed = _seed(pki, lab, workers.ports.tvs)
            pki.regenerate(CertRole.tftp, nodes[0].name)  # the workers start on the new one
        with workers:
            tftp = workers.where(Service.TFTP)
            say(f"cluster up in {time.perf_counter() - setup:.1f} s: {cluster_workers} worker "
                f"processes (pids {', '.join(str(r.pid) for r in workers.ready)}) sharing "
                f"TFTP {tftp[0][0]}:{tftp[0][1]} and every other port, "
                f"{workers.ready[0].files} files each"
                + (", TFTP certificate regenerated" if seed else ""))
            timings = timing(profile)
            if tvs_timeout is not None:
                timings = replace(timings, tvs_timeout=tvs_timeout)
            if tftp_timeout is not None:
                timings = replace(timings, tftp_timeout=tftp_timeout)
            reports = _run_phones(lab, procs, tftp, seed, timings, timeout,
                                  None if quiet else print)
            cluster = workers.stop()
    total = sum(r.ok for r in reports)
    boots = [b for r in reports for b in r.boots]
    wall = max((r.last_ready for r in reports), default=0.0) - _STARTED[0] \
        if total == phones else timeout
    bench_peak = peak_rss_mb()
    peak = bench_peak + sum(r.peak_rss_mb for r in reports) + cluster.peak_rss_mb
    result = StormResult(phones, total, phones - total, wall, percentile(boots, 50),
                         percentile(boots, 99), peak)
    say(f"{phones} phones ({profile} profile, TVS timeout "
        f"{tvs_timeout or timing(profile).tvs_timeout:g} s, TFTP timeout "
        f"{tftp_timeout or timing(profile).tftp_timeout:g} s, no consoles, after {after}): "
        f"{total} ok, {phones - total} failed; wall {wall:.2f} s = "
        f"{total / max(wall, 1e-9):.0f} phones/s")
    reached = sum(r.ready for r in reports)
    say(f"{reached} phones reached phone.ready (complete or not), the last "
        f"{max((r.last_ready for r in reports), default=_STARTED[0]) - _STARTED[0]:.1f} s "
        "after power-on")
    say(f"boot time power-on -> phone.ready: p50 {result.p50_s:.2f} s, "
        f"p99 {result.p99_s:.2f} s, max {max(boots, default=math.nan):.2f} s")
    say("peak RSS per process: bench " + f"{bench_peak:.0f} MB; " + "; ".join(
        f"phones#{r.index} (pid {r.pid}, {r.phones} phones) {r.peak_rss_mb:.0f} MB "
        f"(+{(r.peak_rss_mb - r.base_rss_mb) * 1024 / max(r.phones, 1):.0f} KB/phone)"
        for r in reports) + "; " + "; ".join(
        f"cluster#{w.index} (pid {w.pid}) {w.peak_rss_mb:.0f} MB" for w in cluster.workers))
    say(f"in all {peak:.0f} MB = {peak * 1024 / phones:.0f} KB per phone")
    say(f"CPU: phones {sum(r.cpu_s for r in reports):.1f} s, cluster "
        f"{cluster.cpu_s:.1f} s (" + ", ".join(f"{w.cpu_s:.1f}" for w in cluster.workers)
        + f" per worker), over {wall:.1f} s")
    counts = cluster.counts
    say("cluster saw: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())
                                    if not k.startswith("cluster.")))
    errors = Counter(f"{e.kind}: {str(e.data.get('reason') or e.data.get('error') or '')[:70]}"
                     for w in cluster.workers for e in w.events
                     if e.kind.endswith((".error", "_rejected", ".busy")))
    if errors:
        say("cluster errors and refusals: "
            + "; ".join(f"{k} x{v}" for k, v in errors.most_common(6)))
    kinds: Counter[str] = sum((r.kinds for r in reports), Counter())
    hiccups = {k: v for k, v in kinds.items()
               if k in ("phone.retry", "phone.tftp_timeout", "phone.tftp_error")}
    say(f"phone events: {sum(kinds.values())}; retries/timeouts: {hiccups or 'none'}")
    first = reports[0].step_p50
    say("when (p50 s after power-on, phones process 0): " + ", ".join(
        f"{k.removeprefix('phone.')} {v:.2f}" for k, v in sorted(first.items(),
                                                                key=lambda kv: kv[1])))
    failures: Counter[str] = sum((r.failures for r in reports), Counter())
    if failures:
        say("failed phones' last step: " + ", ".join(f"{k} x{v}"
                                                      for k, v in failures.most_common(6)))
    say(f"machine: {machine_load()}")
    return result


_STARTED = [0.0]  # the storm's start (epoch), set when the phones are told to go


def _run_phones(lab: LabSpec, procs: int, tftp: list[tuple[str, int]], seed: Seed | None,
                profile: TimingProfile, timeout: float,
                say: Callable[[str], None] | None) -> list[PhonesReport]:
    ctx = mp.get_context("spawn")
    rack = lab.racks[0]
    seats = [PhoneSeat(p.name, p.model, str(phone_address(lab, rack, p)), p.protocol)
             for p in rack.phones]
    conns, children = [], []
    for k in range(procs):
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=phones_main, name=f"phones-{k}", daemon=True, args=(
            k, seats[k::procs], tftp, seed, profile, timeout, theirs))
        child.start()
        conns.append(mine)
        children.append(child)
    try:
        for conn, child in zip(conns, children, strict=True):
            if not conn.poll(600) or conn.recv() != "ready":
                raise RuntimeError(f"{child.name} did not get ready (exit {child.exitcode})")
        _STARTED[0] = start_at = time.time() + 0.3
        for conn in conns:
            conn.send(start_at)
        reports: dict[int, PhonesReport] = {}
        ready: dict[int, int] = {}
        deadline, shown = time.time() + timeout + 120, time.time()
        while len(reports) < procs and time.time() < deadline:
            for k, conn in enumerate(conns):
                while k not in reports and conn.poll(0.05):
                    message = conn.recv()
                    if isinstance(message, PhonesReport):
                        reports[k] = message
                    else:
                        ready[k] = message[1]
            if say is not None and time.time() - shown >= PROGRESS_EVERY:
                shown = time.time()
                say(f"  t+{shown - start_at:.0f} s: {sum(ready.values())} phones ready "
                    f"({machine_load()})")
        if len(reports) < procs:
            raise RuntimeError("phone process(es) gave no report: "
                               + ", ".join(c.name for k, c in enumerate(children)
                                           if k not in reports))
        return [reports[k] for k in range(procs)]
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join(5)
        with contextlib.suppress(Exception):
            for conn in conns:
                conn.close()


def main(argv: Sequence[str] | None = None) -> StormResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=1000, help="twin phones reset at once")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds after power-on before unready phones count as failed")
    parser.add_argument("--profile", default="fast", help="twin timing profile")
    parser.add_argument("--after", choices=("regenerate-tftp", "none"),
                        default="regenerate-tftp", help="what happened before the reset")
    parser.add_argument("--cluster-workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="cluster replicas sharing the ports (default: one per CPU)")
    parser.add_argument("--phone-procs", type=int, default=0,
                        help="processes driving the phones (0: as descriptors require, >= 2)")
    parser.add_argument("--tvs-timeout", type=float,
                        default=PROFILES["realistic"].tvs_timeout,
                        help="seconds a phone waits for TVS (default: the realistic profile's, "
                             "what a phone waits; the fast profile's 5 s is a CI shortcut)")
    parser.add_argument("--tftp-timeout", type=float,
                        default=PROFILES["realistic"].tftp_timeout,
                        help="seconds a phone waits for each TFTP packet before resending "
                             "(default: the realistic profile's; the fast profile's 1 s is a "
                             "CI shortcut)")
    options = parser.parse_args(argv)
    result = storm(options.phones, timeout=options.timeout, profile=options.profile,
                   after=options.after, cluster_workers=options.cluster_workers,
                   phone_procs=options.phone_procs, tvs_timeout=options.tvs_timeout,
                   tftp_timeout=options.tftp_timeout)
    print(result.line())
    return result


if __name__ == "__main__":
    main()
