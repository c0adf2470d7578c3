"""Finding 3: a garbage flood must not grow the timeline without bound.

The event log once grew ~550 bytes per refusal forever (47 -> 268 MB after 400k
garbage datagrams). It now keeps a window in memory and spills older events to a
JSON-lines file, with exact counts; the flood must not keep a phone's RRQ waiting.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from harness.events import EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import MappingSource
from tests.hostile.attack_support import PHONE_TIMEOUT, rss_mb, tftp_get

DATAGRAMS = 60_000
WINDOW = 2_000
ITL = b"itl" * 300


def test_a_garbage_flood_keeps_memory_bounded_and_counts_exact(
        tmp_path: Path, figures: Callable[..., None]) -> None:
    spill = tmp_path / "events.jsonl"
    events = EventLog(window=WINDOW, spill=spill)
    with TftpEndpoint(MappingSource({"ITLFile.tlv": ITL}), events) as server:
        rss_before = rss_mb()
        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        latencies = []
        try:
            for i in range(DATAGRAMS):
                attacker.sendto(b"\x00\x09garbage" + i.to_bytes(4, "big"), server.address)
                if i % 200 == 199:
                    time.sleep(0.01)  # bursts the receive buffer holds
                if i % 15_000 == 14_999:  # a phone boots in the middle of the flood
                    started = time.monotonic()
                    tftp_get(server.address, "ITLFile.tlv", ITL)
                    latencies.append(time.monotonic() - started)
            deadline = time.monotonic() + 30
            while events.counts.get("tftp.error", 0) < DATAGRAMS and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            attacker.close()
        grown = rss_mb() - rss_before
    errors = events.counts.get("tftp.error", 0)
    spilled = spill.read_text().splitlines()
    kept = events.snapshot()
    figures("finding 3", garbage=DATAGRAMS, recorded=errors, rss_growth_mb=grown,
            window=WINDOW, spilled=len(spilled), legit_max_s=max(latencies))
    assert errors >= DATAGRAMS * 0.8  # loopback UDP under a loaded host may drop a few
    assert len(kept) <= WINDOW
    # counts are exact: every recorded refusal is in the window or in the spill file
    assert len(spilled) + len(kept) == len(events)
    assert errors == sum('"tftp.error"' in line for line in spilled) + sum(
        e.kind == "tftp.error" for e in kept)
    assert max(latencies) < PHONE_TIMEOUT / 2, latencies
    assert grown < 30, f"RSS grew {grown:.1f} MB for {DATAGRAMS} refusals"
