"""`phonelab capf`: a standalone CAPF server, and a one-shot phone-side enrollment.

`serve` lets a lab run CAPF without a whole cluster (e.g. against a real phone
or capfc); `enroll` plays one phone's session against any CAPF (ours, capfd, a
CUCM) and writes the LSC it obtained. Exit codes of `enroll`: 0 the session
ended normally (reason 0/1), 1 the server refused (reason 7/9) or the session
broke off, 2 usage, 3 no server reachable (TLS or TCP failure).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from harness.aio import BackgroundLoop
from harness.cli.common import (
    err_console,
    load_certificate,
    load_private_key,
    out_console,
    until_signalled,
)
from harness.cli.options import days as valid_days
from harness.cli.options import port_or_any, seconds
from harness.cli.printer import printing
from harness.errors import LabError, UsageError
from harness.events import Event, EventLog
from harness.services.capf import CapfEndpoint
from harness.services.capf_client import CapfClient, CapfIdentity
from harness.services.capf_directory import (
    AuthMode,
    CapfDirectory,
    DeviceRecord,
    Operation,
    device_name,
)

app = typer.Typer(no_args_is_help=True)
DEVICE_HELP = ("SEP<MAC>:install|delete|fetch|none[:password=NNNN|:certificate|:null]"
               "[:key=BITS|:curve=NAME]; repeatable")


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Usage and lab errors as ONE line (rich would wrap long ones at 80 columns)."""
    try:
        yield
    except (UsageError, LabError) as exc:
        prefix = "lab error: " if isinstance(exc, LabError) else ""
        err_console.print(f"phonelab: {prefix}{exc}", markup=False, soft_wrap=True)
        raise typer.Exit(3 if isinstance(exc, LabError) else 2) from None


def identity(cert_path: Path, key_path: Path | None = None) -> CapfIdentity:
    """Certificate and key from PEM file(s); the key must belong to the certificate."""
    cert = load_certificate(cert_path)
    key = load_private_key(key_path or cert_path)
    if key.public_key() != cert.public_key():
        raise UsageError(f"{key_path or cert_path}: the key does not match {cert_path}")
    return CapfIdentity(cert, key)


def parse_device(spec: str) -> DeviceRecord:
    """``SEP<MAC>:operation[:auth][:key=N|:curve=NAME]`` → a validated record."""
    parts = spec.split(":")
    if len(parts) < 2 or parts[1] not in ("install", "delete", "fetch", "none"):
        raise UsageError(f"--device {spec!r}: expected SEP<MAC>:install|delete|fetch|none[:...]")
    auth, password, key_size, curve = AuthMode.NO_PASSWORD, None, 2048, None
    for part in parts[2:]:
        field, _, value = part.partition("=")
        if field == "password" and value:
            auth, password = AuthMode.PASSWORD, value
        elif field == "certificate" and not value:
            auth = AuthMode.CERTIFICATE
        elif field == "null" and not value:
            auth = AuthMode.NO_PASSWORD
        elif field == "key" and value.isdigit():
            key_size = int(value)
        elif field == "curve" and value:
            curve = value
        else:
            raise UsageError(f"--device {spec!r}: cannot read {part!r}")
    try:
        return DeviceRecord(parts[0], Operation(parts[1]), auth, password, key_size, curve)
    except UsageError as exc:
        raise UsageError(f"--device: {exc}") from None


@app.command()
def serve(
    cert: Annotated[Path, typer.Option(help="CAPF TLS certificate PEM (may hold the key)")],
    device: Annotated[list[str], typer.Option(help=DEVICE_HELP)],
    key: Annotated[Path | None, typer.Option(help="key PEM if not in --cert")] = None,
    issuer: Annotated[Path | None, typer.Option(help="LSC issuer cert+key PEM")] = None,
    verify_ca: Annotated[list[Path] | None, typer.Option(help="extra CA (MICs)")] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port)",
                                      callback=port_or_any)] = 3804,
    timeout: Annotated[float, typer.Option(help="seconds a session may take",
                                           callback=seconds)] = 10.0,
    days: Annotated[int, typer.Option(help="LSC validity in days (1-3560)",
                                      callback=valid_days)] = 365,
    auth_type_zero: Annotated[bool, typer.Option(help="announce AUTH_TYPE 0 like capfd")] = False,
) -> None:
    """Run a CAPF server until Ctrl-C, printing one line per session."""
    with one_line_errors():
        _serve(cert, device, key, issuer, verify_ca or [], host, port, timeout, days,
               auth_type_zero)


def _serve(cert: Path, device: list[str], key: Path | None, issuer: Path | None,
           verify_ca: list[Path], host: str, port: int, timeout: float, days: int,
           auth_type_zero: bool) -> None:
    directory = CapfDirectory(parse_device(spec) for spec in device)
    events = EventLog()
    with printing(_capf_line) as listener, BackgroundLoop("capf-serve") as loop:
        events.subscribe(listener)
        endpoint = CapfEndpoint(
            events, loop, identity(cert, key), directory, host=host, port=port,
            issuer=identity(issuer) if issuer else None,
            verify_cas=[load_certificate(p) for p in verify_ca],
            timeout=timeout, validity_days=days, auth_type_zero=auth_type_zero)
        try:
            endpoint.start()
        except OSError as exc:
            raise LabError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        bound = endpoint.address
        print(f"CAPF listening on {bound[0]}:{bound[1]} ({len(directory.records())} devices)",
              flush=True)
        with until_signalled() as stopping:  # Ctrl-C or a plain `kill`: both stop cleanly
            try:
                stopping.wait()
            finally:
                endpoint.stop()


def _capf_line(event: Event) -> str | None:
    return event.describe() if event.kind.startswith("capf.") else None


def _server(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 3804
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--host {text!r}: port must be 1-65535")
    return host, int(port)


@app.command()
def enroll(
    host: Annotated[list[str], typer.Option(help="CAPF server H[:P]; repeat for failover")],
    capf_cert: Annotated[Path, typer.Option(help="the CAPF certificate the phone trusts")],
    device: Annotated[str, typer.Option(help="SEP<MAC>")],
    output: Annotated[Path, typer.Option("-o", "--output", help="LSC cert+key PEM to write")],
    password: Annotated[str | None, typer.Option(help="authentication string")] = None,
    lsc: Annotated[Path | None, typer.Option(help="current LSC cert+key PEM")] = None,
    mic: Annotated[Path | None, typer.Option(help="MIC cert+key PEM")] = None,
    timeout: Annotated[float, typer.Option(help="seconds per server",
                                           callback=seconds)] = 10.0,
) -> None:
    """Play one phone's CAPF session; write the LSC if the server installed one."""
    with one_line_errors():
        _enroll(host, capf_cert, device, output, password, lsc, mic, timeout)


def _enroll(host: list[str], capf_cert: Path, device: str, output: Path, password: str | None,
            lsc: Path | None, mic: Path | None, timeout: float) -> None:
    trusted = load_certificate(capf_cert).public_bytes(Encoding.DER)
    client = CapfClient(
        device_name(device), [_server(h) for h in host], lambda der: der == trusted,
        password=password, lsc=identity(lsc) if lsc else None,
        mic=identity(mic) if mic else None, timeout=timeout)
    result = asyncio.run(client.run())
    if result.reason not in (0, 1):
        err_console.print(f"phonelab: CAPF session {result.session_id} ended: "
                          f"{result.reason_words}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    if result.lsc is not None:
        _write_identity(output, result.lsc)
        out_console.print(f"LSC installed for {device}: serial "
                          f"{result.lsc.cert.serial_number:x}, written to {output}",
                          markup=False, soft_wrap=True)
    else:
        done = "deleted the LSC" if result.deleted else result.reason_words
        out_console.print(f"{device}: {done}; no certificate written", markup=False,
                          soft_wrap=True)


def _write_identity(path: Path, ident: CapfIdentity) -> None:
    """cert + unencrypted key, created 0600 (never readable by others, even briefly)."""
    pem = ident.cert.public_bytes(Encoding.PEM) + ident.key.private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
