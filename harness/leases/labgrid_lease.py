"""A rack shared across hosts: the labgrid place named by the rack's `reservation:`.

Taking the rack is labgrid's own two steps: a reservation for the place (so waiting
runners queue by priority and age instead of polling `acquire`), then acquiring the
place once the coordinator allocates it. While waiting, the reservation is polled
every second (labgrid expires reservations nobody polls) and a progress line names
the holder. Acquired places never expire in labgrid: `release()` runs on every exit
path phonelab controls, and a holder killed outright is cleared with
`phonelab lab kick` (`harness.leases.kick`, docs/shared-lab.md).
"""

from __future__ import annotations

import contextlib
import functools
import time

from harness.errors import LabError
from harness.leases.base import Holder, Progress, holder_tag, this_host
from harness.leases.coordinator import CoordinatorLink

PROGRESS_EVERY_S = 10.0
POLL_S = 1.0
_ALLOCATED = ("allocated", "acquired")


def serial_url(params: dict[str, object]) -> str:
    """pyserial URL of an exported `NetworkSerialPort` (ser2net speaks RFC 2217 unless
    the exporter says `protocol: raw`).

    ser2net does not answer SET_CONTROL for every device (a pty never does), and plain
    pyserial then gives up opening the port; pyserial-labgrid, which labgrid installs,
    has the `ign_set_control` option labgrid's own driver uses, so it is added when the
    installed `serial` knows it."""
    if params.get("protocol") == "raw":
        return f"socket://{params['host']}:{params['port']}"
    options = "?ign_set_control" if _ign_set_control() else ""
    return f"rfc2217://{params['host']}:{params['port']}{options}"


@functools.cache
def _ign_set_control() -> bool:
    import serial.rfc2217

    try:
        serial.rfc2217.Serial().from_url("rfc2217://localhost:1?ign_set_control")
    except ValueError:
        return False  # plain pyserial: unknown option
    return True


class LabgridLease:
    """The rack's labgrid place, reserved and acquired for one holder."""

    kind = "labgrid"

    def __init__(self, coordinator: str, place: str, lab: str, rack: str, *,
                 user: str | None = None, prio: float = 0.0, timeout: float = 10.0) -> None:
        self.coordinator, self.place, self.lab, self.rack = coordinator, place, lab, rack
        self.user, self.prio, self.timeout = user or holder_tag(), prio, timeout
        self._link: CoordinatorLink | None = None
        self._token: str | None = None
        self._resources: dict[str, tuple[str, dict[str, object]]] = {}
        self._acquired = False

    @property
    def name(self) -> str:
        return f"{this_host()}/{self.user}"

    @property
    def held(self) -> bool:
        return self._acquired

    def where(self) -> str:
        return f"labgrid place {self.place} on coordinator {self.coordinator}"

    def _connect(self) -> CoordinatorLink:
        return CoordinatorLink(self.coordinator, self.user, timeout=self.timeout)

    def holder(self) -> Holder | None:
        link = self._link or self._connect()
        try:
            state = link.place(self.place)
        finally:
            if link is not self._link:
                link.close()
        if state is None:
            raise LabError(f"{self.where()}: no such place; create it with `labgrid-client "
                           f"-x {self.coordinator} -p {self.place} create` (docs/shared-lab.md)")
        return Holder(state.acquired, state.changed) if state.acquired else None

    def acquire(self, timeout: float = 600.0, progress: Progress | None = None) -> None:
        started = time.monotonic()
        deadline, shown = started + timeout, started - PROGRESS_EVERY_S  # first at once
        link = self._link = self._connect()
        try:
            if link.place(self.place) is None:
                raise LabError(f"{self.where()}: no such place; create it with `labgrid-client "
                               f"-x {self.coordinator} -p {self.place} create` and add the "
                               "rack's resources (docs/shared-lab.md)")
            self._token = link.reserve(self.place, self.prio)
            while True:
                state = link.poll(self._token)  # also keeps the reservation alive
                if state in _ALLOCATED and self._try_acquire(link):
                    return
                if state in ("expired", "invalid"):
                    self._token = link.reserve(self.place, self.prio)
                now = time.monotonic()
                if now >= deadline:
                    who = self.holder()
                    raise LabError(f"rack {self.rack} of lab {self.lab}: {self.where()} is held "
                                   f"by {who.describe() if who else 'nobody (reserved)'}; "
                                   f"waited {timeout:g} s")
                if progress is not None and now - shown >= PROGRESS_EVERY_S:
                    shown = now
                    who = self.holder()
                    progress(f"waiting for rack {self.rack} ({self.where()}): held by "
                             f"{who.describe() if who else 'nobody, reserved for another run'} "
                             f"({now - started:.0f} s of {timeout:g} s)")
                time.sleep(min(POLL_S, max(0.0, deadline - now)))
        except BaseException:  # Ctrl-C while waiting included: leave no reservation behind
            self._abandon()
            raise

    def _try_acquire(self, link: CoordinatorLink) -> bool:
        try:
            link.acquire(self.place)
        except LabError as exc:
            if "already acquired" in str(exc):
                return False
            raise
        state = link.place(self.place)
        if state is None or state.acquired != link.name:
            return False
        self._acquired = True
        self._resources = state.resources
        return True

    def _abandon(self) -> None:
        link, token = self._link, self._token
        self._link, self._token, self._acquired = None, None, False
        if link is None:
            return
        try:
            if token is not None:
                with contextlib.suppress(LabError):
                    link.cancel(token)
        finally:
            link.close()

    def release(self) -> None:
        """Cancel the reservation, then release the place. In this order the coordinator
        allocates the place to the next waiting reservation at once; the other way round
        the place stays marked reserved until its next periodic scheduling (~15 s)."""
        link, token = self._link, self._token
        if link is None:
            return
        try:
            if token is not None:
                with contextlib.suppress(LabError):
                    link.cancel(token)
                self._token = None
            if self._acquired:  # only if still ours: a kicked holder must not release the next
                link.release(self.place, only_from=link.name)
        finally:
            self._resources = {}
            self._abandon()

    def resources(self, cls: str) -> dict[str, dict[str, object]]:
        """Acquired resources of one labgrid class (name → parameters)."""
        return {name: params for name, (kind, params) in self._resources.items() if kind == cls}

    def consoles(self) -> dict[str, str]:
        return {name: serial_url(params)
                for name, params in self.resources("NetworkSerialPort").items()}
