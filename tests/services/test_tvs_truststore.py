"""TrustStore: lookups by DER, hash, (issuer, serial) in either DN dialect, subject."""

from __future__ import annotations

import hashlib
import threading

import pytest
from tvs_support import ident

from harness.formats.names import dn_string
from harness.formats.roles import parse_role, role_label
from harness.services.truststore import TrustStore, dn_key


def test_lookup_by_der_hash_issuer_serial_and_subject() -> None:
    ca = ident("Lab CA", serial=1, slot=2)
    leaf = ident("ucm-pub", serial=0x8000_0000_0000_0001, slot=3, issuer=ca)
    store = TrustStore()
    entry = store.add(leaf.cert, [0, 3], ttl=3600)
    assert store.by_der(leaf.der) == entry
    assert store.by_sha256(hashlib.sha256(leaf.der).hexdigest().upper()) == entry
    cucm_issuer = ";".join(f"{k.lower()}={v}" for k, v in dn_key(ca.cert.subject))
    assert cucm_issuer.startswith("cn=Lab CA;ou=Test")
    assert store.by_issuer_serial(cucm_issuer, 0x8000_0000_0000_0001) == entry
    assert store.by_issuer_serial(ca.cert.subject, 0x8000_0000_0000_0001) == entry
    assert store.by_issuer_serial(cucm_issuer, 0x0001) is None  # serial is compared as integer
    assert store.by_issuer_serial("CN=Other CA", 0x8000_0000_0000_0001) is None
    assert store.by_subject("CN=ucm-pub; OU=Test; O=Lab; C=AU") == [entry]
    assert leaf.cert in store and leaf.der in store and ca.cert not in store


def test_add_again_overwrites_roles_and_remove_replace_are_immediate() -> None:
    a, b = ident("a", 10), ident("b", 11)
    store = TrustStore()
    store.add(a.cert, [7])
    store.add(a.cert, [0, 21], ttl=60)
    (entry,) = store.snapshot()
    assert (entry.roles, entry.ttl) == (frozenset({0, 21}), 60)
    assert store.remove(a.der) and not store.remove(a.cert)
    store.replace([entry])
    store.add(b.cert, [3])
    assert [e.certificate for e in store.snapshot()] == [a.cert, b.cert]
    store.clear()
    assert len(store) == 0


@pytest.mark.parametrize("ttl", [0, 2592001])
def test_ttl_outside_tvsd_range_is_refused(ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        TrustStore().add(ident("a", 10).cert, [0], ttl=ttl)


def test_dn_dialects_normalise_alike() -> None:
    certutils = "CN=ucm11pub.stormin.local,OU=IST,O=Stormin\\, Inc,L=Brisbane,ST=QLD,C=AU"
    cucm = "cn=ucm11pub.stormin.local; ou=IST;O=Stormin, Inc;L=Brisbane;S=QLD;C=AU"
    assert dn_key(certutils) == dn_key(cucm)
    assert dn_key(cucm)[2] == ("O", "Stormin, Inc")
    assert dn_key("CN=a;O=b") != dn_key("O=b;CN=a")  # certificate order matters
    assert dn_string(ident("a", 10).cert.subject) == "CN=a,OU=Test,O=Lab,C=AU"


def test_role_labels() -> None:
    assert [parse_role(x) for x in ("sast", "CCM+TFTP", "app-server", "TVS", "5")] == [
        0, 2, 7, 21, 5]
    assert role_label(2) == "CCM+TFTP" and role_label(9) == 9
    with pytest.raises(ValueError, match="unknown role"):
        parse_role("HTTPS")


def test_concurrent_writers_and_readers() -> None:
    certs = [ident(f"c{i}", 100 + i).cert for i in range(8)]
    store = TrustStore()
    errors: list[BaseException] = []

    def churn(cert_index: int) -> None:
        try:
            for _ in range(200):
                store.add(certs[cert_index], [cert_index])
                store.snapshot()
                store.remove(certs[cert_index])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(store) == 0
