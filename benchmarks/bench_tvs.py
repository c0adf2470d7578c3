"""TVS throughput: VERIFY answers per second with N concurrent TLS clients.

Why: a cluster reset makes every phone of a rack ask TVS at once (HTTPS services,
signed files from a new signer); this says whether the harness TVS, one asyncio
loop in the harness process, keeps up. Two figures:
- `new-connection`: one TLS handshake per VERIFY, as phones do (§5.1, §7.5), via
  `TvsClient` with its cache cleared, so the RSA handshake dominates;
- `keep-alive`: many VERIFY on one connection (the server's request loop), i.e.
  codec + trust-store cost.
Clients run in a separate process so the server's figure is not bounded by the
clients' share of the GIL. `measure()` works against any running TVS, so a
broader endpoint benchmark can reuse it.
Usage: python benchmarks/bench_tvs.py [--clients 50] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import multiprocessing as mp
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services import tvs_wire as wire
from harness.services.truststore import TrustStore
from harness.services.tvs import TvsEndpoint
from harness.services.tvs_client import TvsClient
from harness.tls import client_context

DEVICE = "CP-8861-SEP001122334455"


@dataclass(frozen=True)
class _Identity:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def _identity(cn: str) -> _Identity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return _Identity(cert, key)


async def _load(address: tuple[str, int], tvs_der: bytes, cert_der: bytes, clients: int,
                seconds: float, reuse: bool) -> int:
    deadline = time.monotonic() + seconds

    async def fresh_connections() -> int:
        client, done = TvsClient([(*address, 0)], lambda der: der == tvs_der), 0
        while time.monotonic() < deadline:
            client.clear_cache()
            done += (await client.verify(cert_der, DEVICE)).valid
        return done

    async def one_connection() -> int:
        ctx = client_context()
        reader, writer = await asyncio.open_connection(*address, ssl=ctx, server_hostname="")
        done, frame = 0, wire.build_verify_request(1001, DEVICE, cert_der)
        while time.monotonic() < deadline:
            writer.write(frame)
            head = await reader.readexactly(wire.HEADER_SIZE)
            body = await reader.readexactly(wire.parse_header(head).length)
            done += wire.decode_response(wire.parse_message(head + body)).status == 0
        writer.close()
        return done

    worker = one_connection if reuse else fresh_connections
    return sum(await asyncio.gather(*(worker() for _ in range(clients))))


def _client_process(address: tuple[str, int], tvs_der: bytes, cert_der: bytes, clients: int,
                    seconds: float, reuse: bool, out: mp.Queue[int]) -> None:
    out.put(asyncio.run(_load(address, tvs_der, cert_der, clients, seconds, reuse)))


def measure(address: tuple[str, int], tvs_der: bytes, cert_der: bytes, *, clients: int = 50,
            seconds: float = 3.0, reuse: bool = False) -> float:
    """VERIFY/s that a running TVS at `address` answers with STATUS 0 for `cert_der`."""
    ctx = mp.get_context("spawn")
    out: mp.Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_client_process,
                       args=(address, tvs_der, cert_der, clients, seconds, reuse, out))
    proc.start()
    done = out.get(timeout=seconds + 60)
    proc.join(10)
    return done / seconds


def bench_tvs(clients: int = 50, seconds: float = 3.0) -> dict[str, float]:
    """Start a harness TVS on loopback and measure both connection patterns."""
    tvs, trusted = _identity("bench-tvs"), _identity("bench-https")
    store = TrustStore()
    store.add(trusted.cert, [7], ttl=3600)
    events = EventLog()
    with BackgroundLoop("bench-tvs") as loop, TvsEndpoint(events, loop, tvs, store) as endpoint:
        args = (endpoint.address, tvs.cert.public_bytes(Encoding.DER),
                trusted.cert.public_bytes(Encoding.DER))
        figures = {"new-connection": measure(*args, clients=clients, seconds=seconds),
                   "keep-alive": measure(*args, clients=clients, seconds=seconds, reuse=True)}
        errors = len(events.of_kind("tvs.error"))
    if errors:
        raise SystemExit(f"{errors} tvs.error events during the benchmark")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    options = parser.parse_args()
    for mode, rate in bench_tvs(options.clients, options.seconds).items():
        print(f"TVS VERIFY/s, {options.clients} concurrent TLS clients, {mode}: {rate:.0f}")


if __name__ == "__main__":
    main()
