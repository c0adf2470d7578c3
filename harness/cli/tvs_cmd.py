"""`phonelab tvs`: run a standalone TVS, or ask one about a certificate like a phone.

`serve` lets a hardware lab point phones at a harness TVS without a cluster;
`query` checks a TVS (ours or a CUCM node) from a shell, accepting the server
only when it presents the given certificate, as a phone does with its ITL.
Exit codes of `query`: 0 valid, 1 invalid, 2 usage, 3 TVS unreachable or not
the expected certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.aio import BackgroundLoop
from harness.cli.common import fail, load_certificate, load_private_key, until_signalled
from harness.cli.options import port_or_any, seconds
from harness.cli.printer import printing
from harness.errors import LabError, UsageError
from harness.events import Event, EventLog
from harness.formats.names import dn_string
from harness.formats.roles import parse_role, role_label
from harness.services.truststore import DEFAULT_TTL, MAX_TTL, TrustStore
from harness.services.tvs import DEFAULT_PORT, TvsEndpoint
from harness.services.tvs_client import TvsClient, TvsServer, TvsUnavailable
from harness.services.tvs_wire import phone_of

app = typer.Typer(no_args_is_help=True)


@dataclass(frozen=True)
class _Identity:
    cert: x509.Certificate
    key: PrivateKeyTypes


def _spki(cert_or_key: x509.Certificate | PrivateKeyTypes) -> bytes:
    public = cert_or_key.public_key()
    return public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _trust_option(spec: str) -> tuple[list[int], Path]:
    roles, sep, path = spec.partition("=")
    if not sep or not roles or not path:
        raise UsageError(f"--trust {spec!r}: expected ROLE[,ROLE]=CERT, e.g. SAST,TFTP=sast.pem")
    try:
        return [parse_role(r) for r in roles.split(",")], Path(path)
    except ValueError as exc:
        raise UsageError(f"--trust {spec!r}: {exc}") from None


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UsageError(f"--host {text!r}: expected HOST or HOST:PORT")
    return host.strip("[]"), int(port)


@app.command()
def serve(
    cert: Annotated[Path, typer.Option("--cert", help="TVS certificate PEM (may hold the key).")],
    key: Annotated[Path | None, typer.Option(help="Private key PEM, if not in --cert.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port).",
                                      callback=port_or_any)] = DEFAULT_PORT,
    trust: Annotated[list[str] | None, typer.Option(
        "--trust", metavar="ROLE[,ROLE]=CERT",
        help="Trusted certificate and its roles; repeat. Roles: SAST CCM CCM+TFTP TFTP CAPF "
        "APP-SERVER TVS.")] = None,
    ttl: Annotated[int, typer.Option(help="Seconds a phone may cache a verdict.")] = DEFAULT_TTL,
    node: Annotated[str, typer.Option(help="Node name shown in verdicts.")] = "tvs",
) -> None:
    """Serve VERIFY and QUERY until Ctrl-C, printing one line per verdict."""
    identity = _Identity(load_certificate(cert), load_private_key(key or cert))
    if _spki(identity.cert) != _spki(identity.key):
        raise UsageError(f"{key or cert}: private key does not match {cert}")
    if not 1 <= ttl <= MAX_TTL:
        raise UsageError(f"--ttl {ttl}: expected 1..{MAX_TTL} seconds")
    store = TrustStore()
    for spec in trust or []:
        roles, path = _trust_option(spec)
        try:
            store.add(load_certificate(path), roles, ttl)
        except ValueError as exc:
            raise UsageError(f"--trust {spec!r}: {exc}") from None
    events = EventLog()
    with printing(_verdict) as listener, BackgroundLoop("phonelab-tvs") as loop:
        events.subscribe(listener)
        endpoint = TvsEndpoint(events, loop, identity, store, node=node, host=host, port=port)
        try:
            endpoint.start()
        except OSError as exc:
            raise LabError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        bound = endpoint.address
        with until_signalled() as stop:  # `kill` stops it as cleanly as Ctrl-C
            print(f"TVS {node} listening on {bound[0]}:{bound[1]} "
                  f"({len(store)} trusted certificates); Ctrl-C stops", flush=True)
            try:
                stop.wait()
            finally:
                endpoint.stop()


def _verdict(event: Event) -> str:
    data = event.data
    if event.kind == "tvs.error":
        return f"error   {data.get('peer', '-')}: {data.get('reason')}"
    roles = ",".join(str(role_label(r)) for r in data.get("roles", [])) or "-"
    reason = f" ({data['reason']})" if data.get("reason") else ""
    return (f"{event.kind.split('.')[1]:<7} {data.get('status'):<7} {data.get('device') or '-'} "
            f"roles={roles} subject={data.get('subject')}{reason}")


@app.command()
def query(
    cert: Annotated[Path, typer.Argument(help="Certificate to ask about (PEM or DER).")],
    host: Annotated[str, typer.Option(help=f"TVS as HOST[:PORT] (port {DEFAULT_PORT}).")],
    tvs_cert: Annotated[Path, typer.Option(help="The certificate the TVS must present.")],
    device: Annotated[str, typer.Option(help="Device name sent, CP-<model>-SEP<MAC>.")] = (
        "CP-0000-SEP000000000000"),
    by_name: Annotated[bool, typer.Option(
        help="Send QUERY (subject, issuer, serial) instead of VERIFY.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds per attempt.", callback=seconds)] = 10.0,
) -> None:
    """Ask a TVS whether it vouches for CERT; exit 0 valid, 1 invalid, 2 wrong --tvs-cert,
    3 unreachable."""
    target = load_certificate(cert)
    expected = load_certificate(tvs_cert).public_bytes(Encoding.DER)
    if phone_of(device) is None:
        raise UsageError(f"--device {device!r}: expected CP-<model>-SEP<12 hex digits>")
    presented: list[bytes] = []

    def accept(der: bytes) -> bool:
        presented.append(der)
        return der == expected

    client = TvsClient([TvsServer(*_host_port(host))], accept, timeout=timeout)
    try:
        if by_name:
            result = client.query_blocking(dn_string(target.subject), dn_string(target.issuer),
                                           target.serial_number, device)
        else:
            result = client.verify_blocking(target.public_bytes(Encoding.DER), device)
    except TvsUnavailable as exc:
        if presented and expected not in presented:  # reached it; the user named another cert
            shown = x509.load_der_x509_certificate(presented[-1])
            raise UsageError(f"{host} presented {dn_string(shown.subject)} (serial "
                             f"{shown.serial_number:x}), not the certificate in {tvs_cert}; "
                             "pass that TVS's certificate with --tvs-cert") from None
        fail(str(exc), 3)
    print(f"status: {'valid' if result.valid else 'invalid'} ({result.status})")
    if result.valid:
        print(f"roles:  {', '.join(str(role_label(r)) for r in result.roles) or '-'}")
        print(f"ttl:    {result.ttl}")
    raise typer.Exit(0 if result.valid else 1)
