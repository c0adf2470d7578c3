"""One CAPF session on the server side: the flows of docs/PROTOCOLS.md §6.5.

AUTH_REQUEST, AUTH_RESPONSE checks (version, device, authentication), the
scheduled operation, END_SESSION with reason 0/1/7/9 as the spec's table. Unlike
capfd, unknown elements are ignored and the configured AUTH_TYPE is announced
when the phone is known by its address (AUTH_REQUEST precedes DEVICE_NAME).
Framing errors and timeouts end without END_SESSION: the stream is not trusted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from harness.formats.errors import FormatError
from harness.services import capf_wire as wire
from harness.services.capf_auth import Signer, certificate_auth_failure, password_matches
from harness.services.capf_directory import AuthMode, CapfDirectory, DeviceRecord, Operation
from harness.services.capf_io import FrameStream, read_message, send
from harness.services.capf_issue import issue_lsc, key_matches, key_request
from harness.services.capf_wire import CertType, Command, Message, Reason, Tag


@dataclass(frozen=True)
class SessionSettings:
    issuer: Signer
    verify_cas: tuple[x509.Certificate, ...] = ()
    timeout: float = 10.0  # per step: a silent peer is dropped after this
    keygen_timeout: float = 120.0  # once the phone said REQUEST_IN_PROGRESS
    validity_days: int = 365
    auth_type_zero: bool = False


@dataclass
class Outcome:
    """What the endpoint records: `capf.session` when the device is known, `capf.error`."""

    device: str | None = None
    operation: str | None = None
    auth: str | None = None
    result: str = "error"
    reason: int | None = None  # the END_SESSION reason sent, None if none was
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _reason(message: Message, tag: Tag = Tag.REASON) -> int | None:
    """A 1-byte element (REASON, VERSION); a malformed one reads as None, not fatal."""
    try:
        return message.number(tag)
    except FormatError:
        return None


class _End(Exception):  # finish with END_SESSION{reason}; `result` names it in the event
    def __init__(self, reason: Reason, result: str, detail: str | None = None) -> None:
        super().__init__(detail or result)
        self.reason, self.result, self.detail = reason, result, detail


class CapfSession:
    def __init__(self, settings: SessionSettings, directory: CapfDirectory,
                 stream: FrameStream, session_id: int, known_phone: str | None) -> None:
        self.settings, self.directory = settings, directory
        self.stream = stream
        self.session_id, self.known_phone = session_id, known_phone
        self.outcome = Outcome()

    async def run(self) -> Outcome:
        try:
            try:
                await self._send(Command.AUTH_REQUEST, *self._auth_request())
                record = self._authenticate(await self._expect(Command.AUTH_RESPONSE))
                reason, self.outcome.result = await self._operate(record)
            except _End as end:
                reason, self.outcome.result = end.reason, end.result
                self.outcome.extra.update({"detail": end.detail} if end.detail else {})
            await self._end(reason)
        except (FormatError, TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            what = "timeout" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            self.outcome.error = f"session {self.session_id}: {what}"
            self.outcome.extra["detail"] = what
        return self.outcome

    def _auth_request(self) -> list[tuple[int, bytes]]:
        record = self.directory.get(self.known_phone) if self.known_phone else None
        auth_type = wire.AuthType.NONE  # unknown phone, or capfd behaviour asked for
        if record is not None and not self.settings.auth_type_zero:
            auth_type = record.protocol_auth_type
        return [(Tag.VERSION, bytes([wire.PROTOCOL_VERSION])), (Tag.AUTH_TYPE, bytes([auth_type]))]

    async def _send(self, command: Command, *elements: tuple[int, bytes]) -> None:
        await send(self.stream, Message(command, self.session_id, list(elements)),
                   self.settings.timeout)

    async def _end(self, reason: Reason) -> None:
        self.outcome.reason = int(reason)
        await self._send(Command.END_SESSION, (Tag.REASON, bytes([reason])))

    async def _expect(self, command: Command, progress: bool = False) -> Message:
        """The next message, which must be `command`; REQUEST_IN_PROGRESS extends the
        wait once to `keygen_timeout` when `progress` (slow key generation on phones)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.timeout
        extended = False
        while True:
            message = await read_message(self.stream, max(0.0, deadline - loop.time()))
            if message.session_id != self.session_id:
                raise _End(Reason.INVALID_ELEMENT, "protocol_error",
                           f"session id {message.session_id}, expected {self.session_id}")
            if progress and message.command == Command.REQUEST_IN_PROGRESS:
                if not extended:
                    deadline, extended = loop.time() + self.settings.keygen_timeout, True
                continue
            if message.command != command:
                raise _End(Reason.INVALID_ELEMENT, "protocol_error",
                           f"got command {message.command}, expected {command.name}")
            return message

    def _authenticate(self, message: Message) -> DeviceRecord:
        version = _reason(message, Tag.VERSION)
        if version is None or not 1 <= version <= wire.PROTOCOL_VERSION:  # the fork's "<= 3"
            raise _End(Reason.INVALID_ELEMENT, "bad_version", f"VERSION {version}")
        name = message.text(Tag.DEVICE_NAME)
        if not name:
            raise _End(Reason.INVALID_ELEMENT, "no_device_name")
        self.outcome.device = name.strip().upper()
        record = self.directory.get(name)
        if record is None:
            raise _End(Reason.UNKNOWN_DEVICE, "unknown_device")
        self.outcome.operation, self.outcome.auth = record.operation.value, record.auth.value
        self.outcome.extra["client_reason"] = _reason(message)
        failure = self._auth_failure(record, name, message)
        if failure is not None:
            raise _End(Reason.INVALID_ELEMENT, "auth_failed", failure)
        return record

    def _auth_failure(self, record: DeviceRecord, name: str, message: Message) -> str | None:
        if record.auth is AuthMode.NO_PASSWORD:
            return None
        if record.auth is AuthMode.PASSWORD:
            ok = password_matches(message.get(Tag.PASSWORD), record.password or "")
            return None if ok else "wrong or missing password"
        cas = (self.settings.issuer.cert, *self.settings.verify_cas)
        return certificate_auth_failure(message, name, cas, self.session_id)

    async def _operate(self, record: DeviceRecord) -> tuple[Reason, str]:
        if record.operation is Operation.INSTALL:
            return await self._install(record)
        if record.operation is Operation.FETCH:
            await self._send(Command.FETCH_CERTIFICATE_REQUEST)
            reply = await self._expect(Command.FETCH_CERTIFICATE_RESPONSE)
            wrapped = reply.get(Tag.CERTIFICATE)
            if wrapped is None:
                return Reason.NO_ACTION, "no_certificate"
            try:
                kind, der = wire.unwrap_certificate(wrapped)
                cert = x509.load_der_x509_certificate(der)
            except (FormatError, ValueError) as exc:
                raise _End(Reason.INVALID_ELEMENT, "bad_certificate", str(exc)) from None
            cert_type = CertType.MIC if kind == CertType.MIC else CertType.LSC
            self.directory.fetched(record.name, cert, cert_type)
            self.outcome.extra["certificate_type"] = cert_type.name
            return Reason.NO_ACTION, "fetched"
        if record.operation is Operation.DELETE:
            await self._send(Command.DELETE_CERTIFICATE_REQUEST)
            reply = await self._expect(Command.DELETE_CERTIFICATE_RESPONSE)
            self.outcome.extra["phone_reason"] = _reason(reply)
            self.directory.deleted(record.name)
            return Reason.UPDATE_CERTIFICATE, "deleted"
        return Reason.NO_ACTION, "no_action"

    async def _install(self, record: DeviceRecord) -> tuple[Reason, str]:
        await self._send(Command.KEY_GENERATE_REQUEST, *key_request(record.key_size, record.curve))
        reply = await self._expect(Command.KEY_GENERATE_RESPONSE, progress=True)
        spki = reply.get(Tag.PUBLIC_KEY)
        if spki is None:
            raise _End(Reason.INVALID_ELEMENT, "keygen_failed", f"phone reason {_reason(reply)}")
        try:
            public_key = load_der_public_key(spki)
        except ValueError:
            raise _End(Reason.INVALID_ELEMENT, "bad_public_key", "not DER SPKI") from None
        if not key_matches(public_key, record.key_size, record.curve):
            raise _End(Reason.INVALID_ELEMENT, "wrong_key", "key type or size not as asked")
        cert = issue_lsc(self.settings.issuer, record.name, public_key,
                         days=self.settings.validity_days)
        der = cert.public_bytes(Encoding.DER)
        await self._send(Command.STORE_CERTIFICATE_REQUEST,
                         (Tag.CERTIFICATE_TYPE, bytes([CertType.LSC])),
                         (Tag.CERTIFICATE, wire.wrap_certificate(der, CertType.LSC)))
        reply = await self._expect(Command.STORE_CERTIFICATE_RESPONSE)
        self.outcome.extra["phone_reason"] = _reason(reply)  # logged only, as capfd
        self.outcome.extra["serial"] = f"{cert.serial_number:x}"
        self.directory.installed(record.name, cert)
        return Reason.UPDATE_CERTIFICATE, "installed"
