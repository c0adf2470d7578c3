"""One-host rack leases: a JSON file under a lock, renewed by a heartbeat while held.

The record names its holder (user, host, pid, what holds it) and an expiry. A holder
renews the expiry every `ttl / 4` s from a daemon thread, so a nightly run longer
than the lease period keeps its rack; a holder that stops renewing (suspended,
killed on another host) loses it once the expiry passes, and a dead holder on this
host loses it at once (docs/ARCHITECTURE.md principle 7). filelock provides the lock;
the record and heartbeat are ours because no library keeps such a lease.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from filelock import FileLock, Timeout

from harness.errors import LabError
from harness.leases.base import Holder, Progress, holder_tag, this_host

PROGRESS_EVERY_S = 10.0  # one "waiting for rack" line this often
DEFAULT_TTL_S = 4 * 3600.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileLease:
    """Exclusive use of one rack of one lab on this host until `release()` or expiry."""

    kind = "file"

    def __init__(self, directory: Path, lab: str, rack: str, ttl: float = DEFAULT_TTL_S,
                 *, name: str | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{lab}.{rack}".replace("/", "_")
        self.path = directory / f"{stem}.lease"
        self._guard = FileLock(str(directory / f"{stem}.lock"))
        self.lab, self.rack, self.ttl = lab, rack, ttl
        self.name = name or f"{this_host()}/{holder_tag()}"
        self.lost: str | None = None  # why the heartbeat found the lease taken from us
        self._held, self._stop = threading.Event(), threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._held.is_set()

    def where(self) -> str:
        return f"lease file {self.path}"

    def record(self) -> dict[str, object] | None:
        """The lease file's record, None when there is none (or it is unreadable)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def holder(self) -> Holder | None:
        record = self.record()
        if record is None or self._free(record, count_mine=False):
            return None
        since = record.get("acquired")
        name = record.get("holder") or f"{record.get('host')}/pid{record.get('pid')}"
        return Holder(str(name), float(since) if isinstance(since, int | float) else None)

    def _mine(self, record: dict[str, object]) -> bool:
        return record.get("pid") == os.getpid() and record.get("host") == this_host()

    def _free(self, record: dict[str, object] | None, *, count_mine: bool = True) -> bool:
        if record is None:
            return True
        expires, pid = record.get("expires", 0), record.get("pid", 0)
        if isinstance(expires, int | float) and expires < time.time():
            return True  # expired: its holder stopped renewing
        if self._mine(record):
            return count_mine
        same_host = record.get("host") == this_host()
        return same_host and isinstance(pid, int) and not _alive(pid)

    def _write(self, record: dict[str, object]) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self.path)

    def acquire(self, timeout: float = 600.0, progress: Progress | None = None,
                poll: float = 1.0) -> None:
        """Take the lease, waiting up to `timeout` s for another holder; LabError then."""
        started = time.monotonic()
        deadline, shown = started + timeout, started - PROGRESS_EVERY_S  # first at once
        while True:
            current = None
            try:
                with self._guard.acquire(timeout=max(0.1, min(poll, deadline - time.monotonic()))):
                    current = self.record()
                    if self._free(current):
                        now = time.time()
                        self._write({"pid": os.getpid(), "host": this_host(), "holder": self.name,
                                     "acquired": now, "renewed": now, "expires": now + self.ttl})
                        self._start_heartbeat()
                        return
            except Timeout:
                current = self.record()
            who = self.holder()
            shown_who = who.describe() if who else str(current)
            if time.monotonic() >= deadline:
                raise LabError(f"rack {self.rack} of lab {self.lab} is leased by {shown_who} "
                               f"({self.where()}); waited {timeout:g} s")
            if progress is not None and time.monotonic() - shown >= PROGRESS_EVERY_S:
                shown = time.monotonic()
                progress(f"waiting for rack {self.rack}: held by {shown_who} "
                         f"({shown - started:.0f} s of {timeout:g} s)")
            time.sleep(max(0.0, min(poll, deadline - time.monotonic())))

    def _start_heartbeat(self) -> None:
        self.lost = None
        self._stop.clear()
        self._held.set()
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease {self.rack}",
                                      daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        interval = max(0.05, self.ttl / 4)
        while not self._stop.wait(interval) and self._held.is_set():
            self.renew()

    def renew(self) -> bool:
        """Push the expiry one period ahead; False (and `lost` set) when no longer ours."""
        try:
            self._guard.acquire(timeout=min(self.ttl, 30.0))
        except Timeout:
            return True  # someone is reading it; the next beat renews
        try:
            record = self.record()
            if record is None or not self._mine(record):
                self.lost = f"taken over by {record.get('holder') if record else 'nobody'}"
                self._held.clear()
                return False
            now = time.time()
            record.update(renewed=now, expires=now + self.ttl)
            self._write(record)
            return True
        finally:
            self._guard.release()

    def release(self) -> None:
        if not self._held.is_set():
            return
        self._held.clear()
        self._stop.set()
        with self._guard:
            record = self.record()
            if record and self._mine(record):
                self.path.unlink(missing_ok=True)
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join(timeout=1.0)

    def consoles(self) -> dict[str, str]:
        return {}

    def resources(self, cls: str) -> dict[str, dict[str, object]]:
        return {}
