"""The phone side of CAPF (docs/PROTOCOLS.md §7.7), for twin phones and `phonelab capf enroll`.

A client written from the phone's rules, not the server's assumptions. Servers
are tried in order until one has sent AUTH_REQUEST; after that the outcome is
returned, never retried elsewhere (an operation may already have happened).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.errors import LabError
from harness.formats.errors import FormatError
from harness.services import capf_wire as wire
from harness.services.capf_auth import Signer, prove, sign_sudi
from harness.services.capf_io import read_message, send
from harness.services.capf_issue import CURVES, generate_key
from harness.services.capf_wire import AuthType, CertType, Command, Message, Tag
from harness.services.tls_stream import TlsStream
from harness.tls import client_context


@dataclass(frozen=True)
class CapfIdentity:
    """A certificate and its key (satisfies `Signer`); the LSC a session installed."""

    cert: x509.Certificate
    key: PrivateKeyTypes


@dataclass
class CapfResult:
    server: tuple[str, int]
    session_id: int
    auth_type: int  # AUTH_TYPE the server announced
    reason: int | None = None  # END_SESSION reason; None if the session broke off
    lsc: CapfIdentity | None = None  # the LSC installed in this session
    deleted: bool = False
    fetched: CertType | None = None  # which certificate a fetch returned
    error: str | None = None

    @property
    def reason_words(self) -> str:  # for people: "unknown device", …
        if self.reason is None:
            return f"no END_SESSION ({self.error})"
        return wire.REASON_WORDS.get(self.reason, f"reason {self.reason}")


class CapfUnavailable(LabError):
    """No CAPF server in the list completed TCP + TLS + AUTH_REQUEST."""


class CapfClient:
    """One phone: device name, credentials, current LSC (updated by sessions)."""

    def __init__(self, device_name: str, servers: Sequence[tuple[str, int]],
                 accept_server_cert: Callable[[bytes], bool], *, password: str | None = None,
                 lsc: Signer | None = None, mic: Signer | None = None,
                 sudi: Signer | None = None, timeout: float = 10.0,
                 local_host: str | None = None) -> None:
        self.device_name, self.servers = device_name, list(servers)
        self.accept_server_cert = accept_server_cert
        self.password, self.lsc, self.mic, self.sudi = password, lsc, mic, sudi
        self.timeout, self.local_host = timeout, local_host

    async def run(self) -> CapfResult:
        """One CAPF session with the first server that answers."""
        failures: list[str] = []
        for host, port in self.servers:
            try:
                stream, first = await self._open(host, port)
            except (OSError, TimeoutError, FormatError, ConnectionError, ssl.SSLError) as exc:
                failures.append(f"{host}:{port}: {exc or type(exc).__name__}")
                continue
            try:
                return await self._session(stream, first, (host, port))
            finally:
                stream.close()
        raise CapfUnavailable("no CAPF server reachable: " + "; ".join(failures))

    async def _open(self, host: str, port: int) -> tuple[TlsStream, Message]:
        async with asyncio.timeout(self.timeout):
            stream = await TlsStream.connect(host, port, client_context(),
                                             local_host=self.local_host)
        try:
            if not self.accept_server_cert(stream.peer_certificate()):
                raise ConnectionError("server certificate not trusted")
            first = await read_message(stream, self.timeout)
            if first.command != Command.AUTH_REQUEST:
                raise FormatError(f"first message is command {first.command}, not AUTH_REQUEST")
        except BaseException:
            stream.abort()
            raise
        return stream, first

    async def _session(self, stream: TlsStream, request: Message,
                       server: tuple[str, int]) -> CapfResult:
        sid = request.session_id
        result = CapfResult(server, sid, request.number(Tag.AUTH_TYPE) or AuthType.NONE)
        pending: PrivateKeyTypes | None = None
        try:
            auth = Message(Command.AUTH_RESPONSE, sid, self._auth(result))
            await send(stream, auth, self.timeout)
            while True:
                message = await read_message(stream, self.timeout)
                if message.session_id != sid:
                    result.error = f"session id {message.session_id}, expected {sid}"
                    return result
                if message.command == Command.END_SESSION:
                    result.reason = message.number(Tag.REASON)
                    return result
                if message.command == Command.KEY_GENERATE_REQUEST:
                    await send(stream, Message(Command.REQUEST_IN_PROGRESS, sid), self.timeout)
                    pending, elements = await self._generate(message)
                elif message.command == Command.STORE_CERTIFICATE_REQUEST:
                    elements = [_reason(self._store(message, pending, result))]
                elif message.command == Command.FETCH_CERTIFICATE_REQUEST:
                    elements = self._fetch(result)
                elif message.command == Command.DELETE_CERTIFICATE_REQUEST:
                    result.deleted, self.lsc = self.lsc is not None, None
                    elements = [_reason(result.deleted)]
                else:  # §6.2: semantics unknown, the emulator closes the session
                    result.error = f"unexpected command {message.command}"
                    return result
                # each of these requests is answered by the next command code (3→4 … 13→14)
                await send(stream, Message(message.command + 1, sid, elements), self.timeout)
        except (FormatError, TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            result.error = "timeout" if isinstance(exc, TimeoutError) else str(exc)
            return result

    def _auth(self, result: CapfResult) -> list[tuple[int, bytes]]:
        """AUTH_RESPONSE per announced AUTH_TYPE; for 0 (capfd) send what the phone has."""
        kind = result.auth_type
        password = (self.password or "") if kind in (AuthType.NONE, AuthType.PASSWORD) else ""
        elements: list[tuple[int, bytes]] = [
            (Tag.REASON, b"\x01"), (Tag.VERSION, bytes([wire.PROTOCOL_VERSION])),
            (Tag.DEVICE_NAME, wire.zstring(self.device_name)),
            (Tag.PASSWORD, wire.zstring(password))]
        candidates: dict[int, tuple[Signer | None, Signer | None]] = {
            AuthType.LSC: (self.lsc, self.mic), AuthType.MIC: (self.mic, self.lsc),
            AuthType.NONE: (self.lsc, self.mic)}  # 3 / 4: precedence with fallback
        signer = next((s for s in candidates.get(kind, ()) if s is not None), None)
        if signer is not None:
            der, signed, sha512_signed = prove(signer, self.device_name)
            cert_type = CertType.LSC if signer is self.lsc else CertType.MIC
            elements += [(Tag.CERTIFICATE, wire.wrap_certificate(der, cert_type)),
                         (Tag.SIGNED_DATA, signed),
                         (Tag.SHA2_SIGNED_DATA, wire.sha2_signed(sha512_signed))]
            if self.sudi is not None:
                elements.append((Tag.SUDI_DATA, sign_sudi(self.sudi, result.session_id).encode()))
        return elements

    async def _generate(self, request: Message) -> tuple[PrivateKeyTypes | None,
                                                          list[tuple[int, bytes]]]:
        """The asked key (RSA size or EC curve) made off the loop; REASON 7 if unsupported."""
        key_type = request.number(Tag.KEY_TYPE) or wire.KeyType.RSA  # absent: RSA
        curve = CURVES.get(request.number(Tag.CURVE) or 0, "?") if key_type == 1 else None
        try:
            if key_type > 1:
                raise ValueError(f"unknown KEY_TYPE {key_type}")
            size = request.number(Tag.KEY_SIZE, 2) or 2048
            key = await asyncio.to_thread(generate_key, size, curve)
        except ValueError:  # unsupported request, or e.g. RSA-512 refused by the library
            return None, [_reason(False)]
        spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return key, [(Tag.PUBLIC_KEY, spki)]

    def _store(self, request: Message, key: PrivateKeyTypes | None, result: CapfResult) -> bool:
        """Keep the certificate as the LSC if it carries the key generated this session."""
        wrapped = request.get(Tag.CERTIFICATE)
        if key is None or wrapped is None:
            return False
        try:
            cert = x509.load_der_x509_certificate(wire.unwrap_certificate(wrapped)[1])
        except ValueError:
            return False
        if cert.public_key() == key.public_key():  # an LSC for some other key is refused
            self.lsc = result.lsc = CapfIdentity(cert, key)
        return result.lsc is not None

    def _fetch(self, result: CapfResult) -> list[tuple[int, bytes]]:
        """LSC if the phone has one, else MIC, with the matching type byte (§6.5)."""
        signer, cert_type = (self.lsc, CertType.LSC) if self.lsc else (self.mic, CertType.MIC)
        if signer is None:
            return [_reason(False)]
        result.fetched = cert_type
        der = signer.cert.public_bytes(Encoding.DER)
        return [_reason(True), (Tag.CERTIFICATE, wire.wrap_certificate(der, cert_type))]


def _reason(ok: bool) -> tuple[int, bytes]:
    """REASON element of a phone reply: 1 done, 7 failed / nothing to act on."""
    return Tag.REASON, bytes([1 if ok else 7])
