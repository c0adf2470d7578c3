"""How fast the trust-list codec is: parse+verify and build+sign of a typical ITL.

A phone emulator re-parses and re-verifies ITLs on every boot of every twin, and
fixtures build them per test, so both paths must stay cheap. The ITL here has
the CUCM shape: SAST signer, the TFTP node as CCM+TFTP, two TVS nodes and CAPF,
all RSA-2048. Runs pinned to one core; the last line is machine-readable:

    formats itl_verify_per_s=<n> itl_build_per_s=<n>
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness.formats import Record, Role, build_trust_list, parse_trust_list

SECONDS = 2.0


@dataclass(frozen=True)
class Identity:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def identity(common_name: str, serial: int) -> Identity:
    """A self-signed RSA-2048 certificate shaped like a CUCM node certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IST"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AU"),
        ]
    )
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return Identity(cert, key)


def rate(action: Callable[[], object], seconds: float = SECONDS) -> float:
    """Calls per second of `action`, measured for about `seconds` after a warm-up."""
    action()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10):
            action()
        count += 10
    return count / elapsed


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sast = identity("ITLRecovery_ucm-pub", 0x5A5A0001)
    names = ["ucm-pub", "tvs1", "tvs2", "capf"]
    nodes = [identity(name, 0x10000 + index) for index, name in enumerate(names)]
    records = [
        Record.from_certificate(sast.cert, Role.SAST),
        Record.from_certificate(nodes[0].cert, Role.CCM_TFTP),
        Record.from_certificate(nodes[1].cert, Role.TVS),
        Record.from_certificate(nodes[2].cert, Role.TVS),
        Record.from_certificate(nodes[3].cert, Role.CAPF),
    ]
    itl = build_trust_list(records, sast, timestamp=1_700_000_000)
    assert parse_trust_list(itl).verify()

    def verify() -> bool:
        return parse_trust_list(itl).verify()

    def build() -> bytes:
        return build_trust_list(records, sast, timestamp=1_700_000_000)

    verify_rate, build_rate = rate(verify), rate(build)
    print(f"ITL: {len(records)} records, {len(itl)} bytes, RSA-2048, SHA-1, one core")
    print(f"parse+verify: {verify_rate:10.0f}/s  ({1e6 / verify_rate:7.1f} us each)")
    print(f"build+sign:   {build_rate:10.0f}/s  ({1e6 / build_rate:7.1f} us each)")
    print(f"formats itl_verify_per_s={verify_rate:.0f} itl_build_per_s={build_rate:.0f}")


if __name__ == "__main__":
    main()
