"""The twin's TVS cache at its edges (docs/PROTOCOLS.md §7.5): positive answers only, kept
for exactly their TTL, with the roles TVS gave. Written for mutants of `TvsCache` that no
lab scenario can see, because the cluster's TVS always answers with a TTL of a day."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.formats.trustlist import Role
from phone_drivers.emulator.trust_state import TvsCache


@pytest.fixture(scope="module")
def cert() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cache-edge")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))


def test_an_answer_lives_exactly_its_ttl(cert: x509.Certificate) -> None:
    cache = TvsCache()
    cache.store(cert, frozenset({Role.SAST}), ttl=1, now=100.0)
    assert cache.find(lambda c: c == cert, now=100.5) is not None, "a 1 s TTL is cached"
    assert cache.find(lambda c: c == cert, now=101.0) is None, "gone at now + TTL"
    cache.store(cert, frozenset({Role.SAST}), ttl=60, now=100.0)
    assert [e.expires for e in cache.entries(now=159.0)] == [160.0]
    assert cache.entries(now=160.0) == ()


def test_a_zero_ttl_is_not_cached(cert: x509.Certificate) -> None:
    cache = TvsCache()
    cache.store(cert, frozenset({Role.SAST}), ttl=0, now=100.0)
    assert cache.find(lambda c: True, now=99.0) is None, "not even a moment before"
    assert cache.entries(now=100.0) == ()


def test_the_roles_tvs_gave_are_kept(cert: x509.Certificate) -> None:
    cache = TvsCache()
    cache.store(cert, frozenset({Role.CAPF}), ttl=60, now=0.0)
    entry = cache.find(lambda c: c == cert, now=1.0)
    assert entry is not None and entry.roles == frozenset({Role.CAPF})
    assert entry.certificate == cert and cache.entries(now=1.0) == (entry,)
