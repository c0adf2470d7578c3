"""Endpoint throughput of a real cluster: TFTP files/s and TVS verifications/s.

Why: the boot-storm figure mixes everything; this isolates the two endpoints a
booting rack leans on, serving what a real `Cluster` publishes for N phone
records. TFTP: `--tftp-clients` concurrent simulated phones, each downloading its
own `ITLSEP<MAC>.tlv` (the cluster ITL) then its `SEP<MAC>.cnf.xml.sgn`, in 512-byte
blocks as phones ask, from its own loopback address, then moving on to the next
phone (the load client of benchmarks/_tftp_load.py; these phones never give up).
TVS: `bench_tvs.measure` at `--tvs-clients` concurrent TLS clients, one handshake
per VERIFY of the cluster's Tomcat certificate, as phones do. The cluster runs in
this process; clients run in separate processes, so the server has its own GIL.
Each phase lasts `--seconds` and stops by itself.

    python benchmarks/bench_endpoints.py [--phones 1000] [--seconds 3]

The last line is machine-readable:
    endpoints tftp_files_per_s=<n> tvs_verify_per_s=<n>
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

import bench_tvs
from _common import machine_load, raise_nofile, running_cluster
from _tftp_load import LoadProcesses, LoadTally, Phone

from lab_topology import phone_address
from lab_topology.generate import twin_lab


@dataclass(frozen=True)
class EndpointFigures:
    tftp_files_per_s: float
    tvs_verify_per_s: float

    def line(self) -> str:
        return (f"endpoints tftp_files_per_s={self.tftp_files_per_s:.0f} "
                f"tvs_verify_per_s={self.tvs_verify_per_s:.0f}")


def measure_tftp(server: tuple[str, int], phones: Sequence[Phone], *, clients: int = 100,
                 procs: int = 1, seconds: float = 3.0) -> tuple[LoadTally, float]:
    """(tally, CPU seconds this process used meanwhile): the server is this process.

    The phones never give up (they resend every second until the phase ends), so a
    failure here is a wrong answer: an ERROR or a file of the wrong size."""
    load = LoadProcesses(server, phones, clients, procs, seconds, tries=None).start()
    time.sleep(0.05)
    cpu = time.process_time()
    tally = load.tally()
    return tally, time.process_time() - cpu


def run(phones: int = 1000, *, seconds: float = 3.0, tftp_clients: int = 100,
        tvs_clients: int = 50, procs: int = 1, quiet: bool = False) -> EndpointFigures:
    say = (lambda *_a: None) if quiet else print
    raise_nofile()
    lab = twin_lab(phones)
    rack = lab.racks[0]
    say(f"machine: {machine_load()}")
    with running_cluster(lab) as (cluster, info, events):
        say(f"cluster of {phones} phone records up in {info.setup_s:.1f} s: {info.files} files")
        who = []
        for p in rack.phones:
            mac, files = p.name[3:], []
            for name in (f"ITLSEP{mac}.tlv", f"SEP{mac}.cnf.xml.sgn"):
                data = cluster.served(name)
                assert data is not None, f"the cluster does not serve {name}"
                files.append((name, len(data)))
            who.append(Phone(str(phone_address(lab, rack, p)), tuple(files)))
        (_, itl), (_, cnf) = who[0].files
        mark = events.mark()
        tally, cpu = measure_tftp(info.tftp[0], who, clients=tftp_clients, procs=procs,
                                  seconds=seconds)
        tftp_rate = tally.files / seconds
        served = sum(1 for e in events.since(mark)
                     if e.kind == "tftp.rrq" and e.data.get("result") == "ok")
        say(f"TFTP: {tftp_clients} concurrent clients in {procs} process(es), ITL {itl} B + "
            f"signed config {cnf} B per phone: {tftp_rate:.0f} files/s, server CPU "
            f"{cpu / seconds:.0%} of a core = {cpu / max(served, 1) * 1e6:.0f} us/file, i.e. "
            f"~{served / max(cpu, 1e-9):.0f} files/s on a whole core ({served} served, "
            f"{tally.retransmits} client retransmits, {tally.failures} errors; client CPU "
            f"{tally.busy:.0%} of {tally.procs} core(s))")
        mark = events.mark()
        cpu = time.process_time()
        tvs_rate = bench_tvs.measure(info.tvs[0], info.tvs_der, info.tomcat_der,
                                     clients=tvs_clients, seconds=seconds)
        cpu = time.process_time() - cpu
        verified = [e for e in events.since(mark) if e.kind == "tvs.verify"]
        invalid = sum(1 for e in verified if e.data.get("status") != "valid")
        tvs_errors = sum(1 for e in events.since(mark) if e.kind == "tvs.error")
        say(f"TVS: {tvs_clients} concurrent TLS clients, one handshake per VERIFY: "
            f"{tvs_rate:.0f} verifications/s, server CPU about "
            f"{cpu / max(len(verified), 1) * 1e6:.0f} us/verify ({invalid} invalid, "
            f"{tvs_errors} tvs.error)")
    say(f"machine: {machine_load()}")
    if tally.failures or invalid:
        raise SystemExit(f"wrong answers: {tally.failures} TFTP, {invalid} TVS")
    return EndpointFigures(tftp_rate, tvs_rate)


def main(argv: Sequence[str] | None = None) -> EndpointFigures:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=1000, help="phone records in the cluster")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each phase")
    parser.add_argument("--tftp-clients", type=int, default=100)
    parser.add_argument("--tvs-clients", type=int, default=50)
    parser.add_argument("--procs", type=int, default=1, help="TFTP client processes")
    options = parser.parse_args(argv)
    figures = run(options.phones, seconds=options.seconds, tftp_clients=options.tftp_clients,
                  tvs_clients=options.tvs_clients, procs=options.procs)
    print(figures.line())
    return figures


if __name__ == "__main__":
    main()
