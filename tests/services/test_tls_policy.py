"""TLS as the release offers it, checked with `openssl s_client` as the independent peer.

CUCM 8.x offered phones TLS 1.0 with RSA key exchange AES-CBC-SHA suites; 12.x wants
TLS 1.2. A version or suite outside the policy is refused and one inside accepted, on
every TLS endpoint of a cluster built from a topology with its own `cluster.tls`;
mixed-mode signalling (SIP and SCCP over TLS) also requires a client certificate.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.aio import BackgroundLoop
from harness.cluster.cluster import Cluster
from harness.cluster.from_spec import cluster_state
from harness.cluster.state import Service
from harness.errors import UsageError
from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from harness.pki.identity import Identity
from harness.services.https import HttpsServicesEndpoint
from harness.services.registrar import Registrar
from harness.services.sccp import SccpEndpoint
from harness.services.truststore import TrustStore
from harness.services.tvs import TvsEndpoint
from harness.tls import TlsChoice, TlsPolicy, TlsPolicyError
from lab_topology.loader import load_lab
from tests.isolated_lab import isolated_twin_lab
from tests.services.sip_support import make_identity, make_pki, pem_files

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")
OCTET = 211  # this module's own loopback block (tests/isolated_lab.py)


def s_client(address: tuple[str, int], *args: str) -> tuple[bool, str]:
    """(handshake completed, what openssl said) for one connection with `args`."""
    assert OPENSSL is not None
    done = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"{address[0]}:{address[1]}", "-brief", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    said = done.stdout + done.stderr
    return done.returncode == 0 and "CONNECTION ESTABLISHED" in said, said


def offer(version: str, suite: str) -> tuple[str, ...]:
    return (f"-{version}", "-cipher", f"{suite}:@SECLEVEL=0")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.init(Path(tmp_path_factory.mktemp("pki")) / "pki", ["cucm1", "cucm2"],
                       key_size=1024)


def test_release_policies() -> None:
    assert TlsPolicy.for_release(8, 0) == TlsPolicy("1.0", ("AES128-SHA", "AES256-SHA"))
    assert TlsPolicy.for_release(11, 5).minimum == "1.0"
    assert TlsPolicy.for_release(12, 5).minimum == "1.2"
    assert TlsChoice("1.2").policy(8, 0) == TlsPolicy("1.2", ("AES128-SHA", "AES256-SHA"))
    assert TlsChoice(None, ("AES256-SHA",)).policy(12, 0).minimum == "1.2"
    with pytest.raises(TlsPolicyError, match="minimum version"):
        TlsPolicy("1.3")
    with pytest.raises(TlsPolicyError, match="unknown to this host's OpenSSL"):
        TlsPolicy("1.0", ("NOT-A-SUITE",))
    with pytest.raises(TlsPolicyError, match="not OpenSSL suite names"):
        TlsPolicy("1.0", ("AES128-SHA:ALL",))  # no smuggled cipher-string syntax


def test_cucm8_offer_on_tvs(pki: LabPKI, loop: BackgroundLoop, events: EventLog) -> None:
    with TvsEndpoint(events, loop, pki.identity(CertRole.tvs, "cucm1"), TrustStore()) as tvs:
        ok, said = s_client(tvs.address, *offer("tls1", "AES128-SHA"))
        assert ok and "Protocol version: TLSv1\n" in said and "AES128-SHA" in said, said
        assert s_client(tvs.address, *offer("tls1_2", "AES256-SHA"))[0]
        refused = [s_client(tvs.address, *args)[0] for args in (
            offer("tls1_2", "ECDHE-RSA-AES128-GCM-SHA256"),
            offer("tls1_2", "CAMELLIA128-SHA"),
            offer("tls1", "NULL-SHA"),
            ("-tls1_3",))]
        assert refused == [False, False, False, False]


def test_cucm12_offer_on_https(pki: LabPKI, loop: BackgroundLoop, events: EventLog) -> None:
    server = HttpsServicesEndpoint(pki.identity(CertRole.tomcat, "cucm1"), events, loop=loop)
    server.tls_policy = lambda: TlsPolicy.for_release(12, 5)
    with server:
        assert not s_client(server.address, *offer("tls1", "AES128-SHA"))[0]
        assert not s_client(server.address, *offer("tls1_1", "AES128-SHA"))[0]
        ok, said = s_client(server.address, *offer("tls1_2", "ECDHE-RSA-AES128-GCM-SHA256"))
        assert ok and "TLSv1.2" in said, said


def _lab(tmp_path: Path, tls: dict[str, object]) -> Path:
    path = isolated_twin_lab(tmp_path, OCTET)
    document = yaml.safe_load(path.read_text())
    cluster = document["racks"][0]["cluster"]
    cluster["security_mode"] = "mixed"
    cluster["tls"] = tls
    path.write_text(yaml.safe_dump(document))
    return path


def test_topology_tls_reaches_every_tls_endpoint(tmp_path: Path, pki: LabPKI) -> None:
    lab = load_lab(_lab(tmp_path, {"minimum_version": "1.2", "suites": ["AES256-GCM-SHA384"]}))
    state = cluster_state(lab.racks[0])
    cluster = Cluster(state, pki, events=EventLog(), name="tls-policy")
    cluster.start()
    try:
        sip_tls = cluster.plane.secured_sip_port("cucm1")
        endpoints = {
            "tvs": cluster.plane.endpoint(Service.TVS, "cucm1").address,
            "capf": cluster.plane.endpoint(Service.CAPF, "cucm1").address,
            "https": cluster.plane.endpoint(Service.HTTPS, "cucm1").address,
            "sip-tls": (cluster.plane.endpoint(Service.SIP, "cucm1").address[0], sip_tls),
        }
        sccp = cluster.plane.endpoint(Service.SCCP, "cucm1")
        assert isinstance(sccp, SccpEndpoint) and sccp.tls_address is not None
        endpoints["sccp-tls"] = sccp.tls_address
        mfg = pki.identity(CertRole.mfg_ca)
        mic = make_identity("CP-7962G-SEP00000A000001", Identity(mfg.cert, mfg.key))
        mic_cert, mic_key = pem_files(mic, str(tmp_path), "mic")
        results = {}
        for name, address in endpoints.items():
            signalling = name in ("sip-tls", "sccp-tls")
            # mixed-mode signalling asks for the phone's certificate: present its MIC
            mine = ("-cert", mic_cert, "-key", mic_key) if signalling else ()
            inside, said = s_client(address, *offer("tls1_2", "AES256-GCM-SHA384"), *mine)
            assert "AES256-GCM-SHA384" in said, (name, said)
            results[name] = (
                inside,
                s_client(address, *offer("tls1", "AES256-SHA"), *mine)[0],
                s_client(address, *offer("tls1_2", "AES128-GCM-SHA256"), *mine)[0],
                not signalling or s_client(address, *offer("tls1_2", "AES256-GCM-SHA384"))[0])
        # (configured suite accepted, TLS 1.0 refused, other suite refused, no cert refused)
        assert results == {name: (True, False, False, name in ("tvs", "capf", "https"))
                           for name in endpoints}, results
    finally:
        cluster.stop()


def test_topology_tls_mistakes_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="minimum_version"):
        load_lab(_lab(tmp_path, {"minimum_version": "1.3"}))
    lab = load_lab(_lab(tmp_path, {"suites": ["NOT-A-SUITE"]}))
    with pytest.raises(UsageError, match=r"cluster\.tls: TLS suites: NOT-A-SUITE"):
        cluster_state(lab.racks[0])


def test_mixed_mode_sip_tls_requires_and_verifies_client_certificates(
        tmp_path: Path, loop: BackgroundLoop, events: EventLog) -> None:
    from harness.services.sip_binding import TlsSettings
    sip_pki = make_pki()
    settings = TlsSettings(identity=lambda: sip_pki.callmanager,
                           client_cas=lambda: [sip_pki.capf.cert, sip_pki.mfg.cert])
    with Registrar(events, loop, tls=settings) as registrar:
        assert isinstance(registrar, Registrar)
        address = (registrar.address[0], registrar.tls_port)
        lsc_cert, lsc_key = pem_files(sip_pki.lsc, str(tmp_path), "lsc")
        stranger_cert, stranger_key = pem_files(sip_pki.stranger, str(tmp_path), "stranger")
        ok, said = s_client(address, *offer("tls1", "AES128-SHA"), "-cert", lsc_cert,
                            "-key", lsc_key)
        assert ok, said
        assert not s_client(address, *offer("tls1", "AES128-SHA"))[0]  # no certificate
        assert not s_client(address, *offer("tls1", "AES128-SHA"), "-cert", stranger_cert,
                            "-key", stranger_key)[0]  # one no trusted CA issued
    reasons = [e.data["reason"] for e in events.of_kind("sip.error")]
    assert sum("TLS handshake failed" in r for r in reasons) == 2, reasons
