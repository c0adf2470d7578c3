"""What fault injection costs an endpoint: per datagram, with nothing applied and with loss.

Why: every TFTP datagram of every run now leaves through `ServicePath` sockets
(harness/services/impaired_path.py), impaired or not, so the clean path must stay
close to a plain `sendto`; and a lossy boot storm makes one seeded draw per datagram.
Sends go to a loopback UDP sink nobody reads (the kernel drops what overflows).
Usage: python benchmarks/bench_impairment.py [--packets 200000]
Prints `impairment <case> ns_per_datagram=<n>` (best of 5 rounds) for a plain socket,
the path with nothing applied, the path with 30 % loss, and one seeded draw alone.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Callable

from harness.services.impaired_path import ServicePath
from harness.services.impairment import Draws, Impairment

PACKET = b"\x00\x03\x00\x01" + bytes(512)  # a TFTP DATA block


ROUNDS = 5  # the machine is shared: the best of five rounds of each case


def timed(packets: int, send: Callable[[int], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for i in range(packets // ROUNDS):
            send(i)
        best = min(best, (time.perf_counter() - start) / (packets // ROUNDS) * 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    packets = parser.parse_args().packets
    if packets < ROUNDS:
        parser.error(f"--packets must be at least {ROUNDS}")
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    target = sink.getsockname()
    plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    path = ServicePath("tftp")
    gated = path.datagram_socket()
    draws = Draws(1)
    figures = {
        "plain_sendto": timed(packets, lambda _: plain.sendto(PACKET, target)),
        "clean_path": timed(packets, lambda _: gated.sendto(PACKET, target)),
    }
    path.apply(Impairment("tftp", loss=0.3, seed=1), draws, out=False)
    figures["loss_30pct"] = timed(packets, lambda i: gated.sendto(PACKET[:4] + i.to_bytes(4, "big"),
                                                                   target))
    figures["draw_only"] = timed(packets, lambda i: draws.chance("127.0.0.1",
                                                                  i.to_bytes(4, "big")))
    lost = path.counts["datagram lost"] / (packets // ROUNDS * ROUNDS)
    for case, ns in figures.items():
        print(f"impairment {case} ns_per_datagram={ns:.0f}")
    print(f"impairment loss_30pct lost_ratio={lost:.3f}")
    for end in (sink, plain, gated):
        end.close()


if __name__ == "__main__":
    main()
