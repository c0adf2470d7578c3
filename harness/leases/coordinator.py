"""A synchronous handle on a labgrid coordinator, through labgrid's own client session.

labgrid's `ClientSession` is asyncio and gRPC; phonelab's fixtures and CLI are plain
threads. Sessions run on one event loop per process, in a daemon thread (gRPC's asyncio
layer fails with "Internal error from Core" when two loops in one process hold
channels, as two racks' leases would), and every call here is one bounded round trip
(`timeout`), so a coordinator that stops answering is a `LabError`, never a hang. The
session's user part is ours (`holder_tag`) so two pytest runs of one person on one host
are still two holders; labgrid reads the host part from LG_HOSTNAME like its own tools.
Imported only for racks with a `reservation:` (labgrid is the extra `phonelab[labgrid]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.errors import LabError

try:
    import grpc
    from labgrid.remote.client import ClientSession
    from labgrid.remote.common import Reservation
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2
    from labgrid.remote.generated import labgrid_coordinator_pb2_grpc as pb2_grpc
    from labgrid.util.proxy import proxymanager
except ImportError as exc:  # the extra is not installed
    LABGRID_MISSING: str | None = (f"labgrid is not installed ({exc}); install the extra: "
                                   "pip install -e '.[labgrid]' (docs/shared-lab.md)")
else:
    LABGRID_MISSING = None

T = TypeVar("T")
DEFAULT_PORT = 20408  # labgrid's coordinator port
CHANNEL_OPTIONS = [  # labgrid's client keepalive settings
    ("grpc.keepalive_time_ms", 7500),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.http2.ping_timeout_ms", 10000),
    ("grpc.http2.max_pings_without_data", 0),
]
_LOOP_LOCK = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _shared_loop() -> asyncio.AbstractEventLoop:
    """The process's one loop for coordinator sessions, started on first use."""
    global _loop
    with _LOOP_LOCK:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, daemon=True,
                             name="labgrid sessions").start()
        return _loop


@dataclass(frozen=True)
class PlaceState:
    """What phonelab needs of a labgrid place."""

    name: str
    acquired: str | None  # "host/user" of the holder
    changed: float  # when it was last acquired, released or edited
    reservation: str | None
    resources: dict[str, tuple[str, dict[str, Any]]]  # acquired: name → (class, params)
    matching: dict[str, tuple[str, dict[str, Any]]]  # every exported resource it matches


class CoordinatorLink:
    """One client session with a coordinator; `close()` it (or use `with`)."""

    def __init__(self, address: str, user: str, timeout: float = 10.0) -> None:
        if LABGRID_MISSING:
            raise LabError(LABGRID_MISSING)
        self.address, self.user, self.timeout = address, user, timeout
        self._loop = _shared_loop()
        self._session: Any = None
        self._session = self._call(self._start(), "connect")

    async def _start(self) -> Any:
        user = self.user

        class _Session(ClientSession):  # type: ignore[misc]
            def getuser(self) -> str:  # the holder's user part is ours, not the login's
                return user

        grpc_address = proxymanager.get_grpc_address(self.address, default_port=DEFAULT_PORT)
        session = _Session(address=grpc_address, loop=self._loop)
        # The coordinator tells clients apart by their TCP peer, and gRPC shares one
        # connection among a process's channels to the same target: each session gets its
        # own (a local subchannel pool), or a second rack's session is refused as a clash.
        shared, session.channel = session.channel, grpc.aio.insecure_channel(
            target=grpc_address, options=[*CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1)])
        session.stub = pb2_grpc.CoordinatorStub(session.channel)
        await shared.close()
        try:
            await session.start()
        except Exception:
            await session.close()
            raise
        return session

    @property
    def name(self) -> str:
        """This session's holder name as the coordinator records it (`host/user`)."""
        return f"{self._session.gethostname()}/{self.user}"

    def _call(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise LabError(f"labgrid coordinator {self.address}: no answer to {what} within "
                           f"{self.timeout:g} s") from None
        except grpc.aio.AioRpcError as exc:
            raise LabError(f"labgrid coordinator {self.address}: {what}: {exc.details()}"
                           ) from None
        except LabError:
            raise
        except Exception as exc:  # labgrid's ServerError when it cannot connect
            raise LabError(f"labgrid coordinator {self.address}: {what}: {exc}") from None

    def _rpc(self, method: str, request: Any, what: str) -> Any:
        """One unary call of the coordinator's gRPC service (made on the session's loop)."""

        async def call() -> Any:
            return await getattr(self._session.stub, method)(request)

        return self._call(call(), what)

    def place(self, name: str) -> PlaceState | None:
        """The place as the coordinator has it now (None: no such place)."""
        return self._call(self._place(name), f"read place {name}")

    async def _place(self, name: str) -> PlaceState | None:
        await self._session.sync_with_coordinator()
        place = self._session.places.get(name)
        if place is None:
            return None
        acquired = {tuple(path) for path in place.acquired_resources}
        resources: dict[str, tuple[str, dict[str, Any]]] = {}
        matching: dict[str, tuple[str, dict[str, Any]]] = {}
        for exporter, groups in self._session.resources.items():
            for group, entries in groups.items():
                for resource, entry in entries.items():
                    path = (exporter, group, entry.cls, resource)
                    match = place.getmatch(path)
                    if match is None:
                        continue
                    shown = match.rename or resource
                    matching[shown] = (entry.cls, dict(entry.params))
                    if path in acquired:
                        resources[shown] = matching[shown]
        return PlaceState(place.name, place.acquired or None, float(place.changed),
                          place.reservation or None, resources, matching)

    def reserve(self, place: str, prio: float = 0.0) -> str:
        """A reservation for exactly `place`; its token."""
        request = pb2.CreateReservationRequest(
            filters={"main": pb2.Reservation.Filter(filter={"name": place})}, prio=prio)
        response = self._rpc("CreateReservation", request, "reserve")
        return str(response.reservation.token)

    def poll(self, token: str) -> str:
        """Refresh the reservation (it expires unless polled); its state name."""
        request = pb2.PollReservationRequest(token=token)
        response = self._rpc("PollReservation", request, "poll reservation")
        return str(Reservation.from_pb2(response.reservation).state.name)

    def reservations(self) -> list[tuple[str, str, str]]:
        """Every reservation the coordinator has: (token, owner `host/user`, state name)."""
        response = self._rpc("GetReservations", pb2.GetReservationsRequest(), "list reservations")
        found = [Reservation.from_pb2(r) for r in response.reservations]
        return [(str(r.token), str(r.owner), str(r.state.name)) for r in found]

    def cancel(self, token: str) -> None:
        request = pb2.CancelReservationRequest(token=token)
        self._rpc("CancelReservation", request, "cancel reservation")

    def acquire(self, place: str) -> None:
        request = pb2.AcquirePlaceRequest(placename=place)
        self._call(self._acquire(request), f"acquire place {place}")

    async def _acquire(self, request: Any) -> None:
        await self._session.stub.AcquirePlace(request)
        await self._session.sync_with_coordinator()

    def release(self, place: str, only_from: str | None = None) -> None:
        """Release `place`; with `only_from`, only if that holder still has it."""
        request = (pb2.ReleasePlaceRequest(placename=place, fromuser=only_from) if only_from
                   else pb2.ReleasePlaceRequest(placename=place))
        self._rpc("ReleasePlace", request, f"release place {place}")

    def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            with contextlib.suppress(LabError):
                self._call(self._close(session), "close")

    async def _close(self, session: Any) -> None:
        await session.stop()
        await session.close()

    def __enter__(self) -> CoordinatorLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
