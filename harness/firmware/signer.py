"""The lab's stand-in for Cisco's firmware signing key, the same on every machine.

A real phone verifies `.loads`/`.sbn` files with a key built into its firmware,
not with the X.509 names in the header (docs/REAL_WIRE.md §5.2). The twin needs
the same: one fixed "Cisco firmware" key it knows without being told, and the
example-load generator needs its private half. Rather than check a private key
into the repository (the TFTP policy refuses keys anyway), the RSA-2048 key is
derived from a fixed seed: two primes found by a seeded search with Miller-Rabin.
Hand-written because `cryptography` generates keys only from the OS's random
source. It is a lab key by construction: never use it for anything real.
"""

from __future__ import annotations

import datetime
import functools
import random
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SEED = "phonelab lab firmware signer v1 (not a Cisco key)"
PUBLIC_EXPONENT = 65537
SERIAL = 0x1234567890ABCDEF  # the placeholder serial seen in Cisco's own headers (§5.2)
_SMALL_PRIMES = tuple(p for p in range(3, 2000, 2) if all(p % q for q in range(3, p, 2)))


@dataclass(frozen=True)
class FirmwareSigner:
    """Certificate + key: satisfies `harness.formats.header.Signer`."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def _probable_prime(n: int, rng: random.Random) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(40):  # error below 2^-80
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int) -> int:
    for _ in range(100_000):  # bounded: a 1024-bit prime turns up within ~700 odd tries
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1  # top two bits: full size
        if candidate % PUBLIC_EXPONENT != 1 and _probable_prime(candidate, rng):
            return candidate
    raise RuntimeError("no prime found")  # pragma: no cover - astronomically unlikely


@functools.cache
def lab_firmware_key() -> rsa.RSAPrivateKey:
    """The fixed RSA-2048 lab firmware key (same bytes on every run)."""
    rng = random.Random(SEED)
    p = _prime(rng, 1024)
    q = _prime(rng, 1024)
    while q == p:  # pragma: no cover
        q = _prime(rng, 1024)
    phi = (p - 1) * (q - 1)
    d = pow(PUBLIC_EXPONENT, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q))
    return numbers.private_key()


@functools.cache
def lab_firmware_signer() -> FirmwareSigner:
    """The key with a fixed self-signed certificate (names like Cisco's placeholders)."""
    key = lab_firmware_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phonelab firmware signer"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "lab"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "phonelab (not Cisco)")])
    start = datetime.datetime(2010, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(SERIAL)
            .not_valid_before(start).not_valid_after(start.replace(year=2050))
            .sign(key, hashes.SHA256()))
    return FirmwareSigner(cert, key)
