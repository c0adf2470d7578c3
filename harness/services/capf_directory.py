"""The CAPF server's device directory (docs/PROTOCOLS.md §6.9, §6.10).

What CUCM's phone page (or capfd's SQLite table) holds per device: the pending
certificate operation, how the phone must authenticate, the key to ask for and
the certificate last issued or fetched. Kept in memory and thread-safe because
tests and cluster procedures schedule operations from their own thread while
the server reads records on its loop; listeners let the Cluster learn a phone's
LSC the moment a session installs, fetches or deletes it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from cryptography import x509

from harness.errors import UsageError
from harness.services.capf_issue import CURVES, RSA_SIZES
from harness.services.capf_wire import AuthType, CertType

DEVICE_NAME = re.compile(r"SEP[0-9A-F]{12}")


class Operation(StrEnum):
    INSTALL = "install"
    FETCH = "fetch"
    DELETE = "delete"
    NONE = "none"


class AuthMode(StrEnum):
    PASSWORD = "password"
    NO_PASSWORD = "no password"
    CERTIFICATE = "certificate"


# AUTH_TYPE values each mode may announce in AUTH_REQUEST (first = default; 0 = capfd style).
_AUTH_TYPES = {
    AuthMode.PASSWORD: (AuthType.PASSWORD, AuthType.NONE),
    AuthMode.NO_PASSWORD: (AuthType.NULL_STRING, AuthType.NONE),
    AuthMode.CERTIFICATE: (AuthType.LSC, AuthType.MIC, AuthType.NONE),
}


def device_name(text: str) -> str:
    """Normalised ``SEP<MAC>`` (upper case) or UsageError."""
    name = text.strip().upper()
    if not DEVICE_NAME.fullmatch(name):
        raise UsageError(f"device name {text!r} is not SEP followed by 12 hex digits")
    return name


@dataclass(frozen=True)
class DeviceRecord:
    """One device; immutable, replaced as a whole so readers never see half an update."""

    name: str
    operation: Operation = Operation.NONE
    auth: AuthMode = AuthMode.NO_PASSWORD
    password: str | None = None
    key_size: int = 2048
    curve: str | None = None  # set: install asks for EC on this curve, key_size unused
    auth_type: AuthType | None = None  # None: the mode's default (1, 2 or 3)
    certificate: x509.Certificate | None = None
    certificate_type: CertType | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", device_name(self.name))
        object.__setattr__(self, "operation", Operation(self.operation))
        object.__setattr__(self, "auth", AuthMode(self.auth))
        if self.auth is AuthMode.PASSWORD and not (
            self.password and self.password.isdigit() and 4 <= len(self.password) <= 16
        ):
            raise UsageError(f"{self.name}: password mode needs a 4-16 digit string")
        if self.key_size not in RSA_SIZES:
            raise UsageError(f"{self.name}: key size must be one of {RSA_SIZES}")
        if self.curve is not None and self.curve not in CURVES.values():
            raise UsageError(f"{self.name}: curve must be one of {sorted(CURVES.values())}")
        if self.auth_type is not None and self.auth_type not in _AUTH_TYPES[self.auth]:
            raise UsageError(f"{self.name}: AUTH_TYPE {int(self.auth_type)} contradicts "
                             f"mode {self.auth.value!r}")

    @property
    def protocol_auth_type(self) -> AuthType:
        """The AUTH_TYPE to announce for this device (§6.10 mapping)."""
        return self.auth_type if self.auth_type is not None else _AUTH_TYPES[self.auth][0]


Listener = Callable[[DeviceRecord], None]


class CapfDirectory:
    """Thread-safe name → DeviceRecord map with certificate-change listeners."""

    def __init__(self, records: Iterable[DeviceRecord] = ()) -> None:
        self._lock = threading.Lock()
        self._records = {r.name: r for r in records}
        self._listeners: list[Listener] = []

    def put(self, record: DeviceRecord) -> DeviceRecord:
        """Add or replace a device (scheduling an operation is a `put` or `update`)."""
        with self._lock:
            self._records[record.name] = record
        return record

    def add(self, name: str, operation: Operation | str = Operation.NONE,
            auth: AuthMode | str = AuthMode.NO_PASSWORD, *, password: str | None = None,
            key_size: int = 2048, curve: str | None = None,
            auth_type: AuthType | None = None) -> DeviceRecord:
        """Validated convenience form of `put`."""
        return self.put(DeviceRecord(name, Operation(operation), AuthMode(auth), password,
                                     key_size, curve, auth_type))

    def get(self, name: str) -> DeviceRecord | None:
        with self._lock:
            return self._records.get(name.strip().upper())

    def update(self, name: str, **changes: Any) -> DeviceRecord:
        """Change fields of a known device (e.g. ``operation="install"``)."""
        with self._lock:
            current = self._records.get(name.strip().upper())
            if current is None:
                raise UsageError(f"unknown CAPF device {name}")
            record = replace(current, **changes)
            self._records[record.name] = record
        return record

    def remove(self, name: str) -> None:
        with self._lock:
            self._records.pop(name.strip().upper(), None)

    def records(self) -> list[DeviceRecord]:
        with self._lock:
            return list(self._records.values())

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(record)` after every install, fetch or delete."""
        with self._lock:
            self._listeners.append(listener)

    # --- outcomes of completed sessions (called by the server) -------------
    def installed(self, name: str, cert: x509.Certificate) -> DeviceRecord:
        return self._complete(name, cert, CertType.LSC)

    def fetched(self, name: str, cert: x509.Certificate, cert_type: CertType) -> DeviceRecord:
        return self._complete(name, cert, cert_type)

    def deleted(self, name: str) -> DeviceRecord:
        return self._complete(name, None, None)

    def _complete(self, name: str, cert: x509.Certificate | None,
                  cert_type: CertType | None) -> DeviceRecord:
        """Operation back to none (§6.9) and the certificate kept or cleared."""
        record = self.update(name, operation=Operation.NONE, certificate=cert,
                             certificate_type=cert_type)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(record)
        return record
