"""Fault injection in the twin's endpoints, over real sockets on 127.212.0.0/16.

A real cluster (TFTP, TVS, CAPF, HTTPS) is impaired through `fixtures.network.Network`
with the twin's applier; independent peers judge it: tftpy's client for TFTP, Python's
own `ssl` for the TLS services, and the twin phone's TFTP client for its retransmits.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import tftpy

from fixtures.network import EndpointPaths, Network
from harness.aio import BackgroundLoop
from harness.cluster.cluster import Cluster
from harness.cluster.state import ClusterState, Node, Service
from harness.errors import UsageError
from harness.events import EventLog
from harness.pki import LabPKI
from harness.services.base import Endpoint
from harness.services.impairment import Applier, Outage
from harness.services.tftp import TftpEndpoint
from phone_drivers.emulator import tftp_client

NODES = [Node("cucm1", "127.212.0.1"),
         Node("cucm2", "127.212.0.2", frozenset({Service.TFTP, Service.TVS}))]
PHONE_IP = "127.212.100.1"
BIG = bytes(range(256)) * 24  # 12 blocks of 512 (and an empty 13th)


def twin_applier(cluster: Cluster, service: Service, endpoints: Sequence[Endpoint]) -> Applier:
    return EndpointPaths([e.path for e in endpoints])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("impair-pki") / "pki"
    pki = LabPKI.init(root, [n.name for n in NODES],
                      addresses={n.name: n.address for n in NODES})
    with Cluster(ClusterState(list(NODES)), pki, name="impair") as running:
        running.place_file("big.bin", BIG)
        for endpoint in running.plane.of(Service.TFTP):
            assert isinstance(endpoint, TftpEndpoint)
            endpoint.timeout = 0.25  # the server resends sooner: loss costs less test time
        yield running


@pytest.fixture
def network(cluster: Cluster) -> Iterator[Network]:
    net = Network(cluster, twin_applier, cluster.events, [])
    yield net
    net.restore()


def tftpy_download(address: tuple[str, int], name: str, timeout: float = 1.0,
                   retries: int = 8) -> bytes:
    out = io.BytesIO()
    tftpy.TftpClient(*address).download(name, out, timeout=timeout, retries=retries)
    return out.getvalue()


def tls_connect(address: tuple[str, int], timeout: float = 3.0) -> ssl.SSLSocket:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")  # whatever the release's policy offers (RSA kx)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(address, timeout=timeout, source_address=(PHONE_IP, 0))
    try:
        return context.wrap_socket(raw)
    except BaseException:
        raw.close()
        raise


def tftp_paths(cluster: Cluster) -> list[Endpoint]:
    return cluster.plane.of(Service.TFTP)


# --- datagrams ----------------------------------------------------------------------------
def test_tftp_survives_30_percent_loss_by_retransmission(cluster: Cluster,
                                                         network: Network) -> None:
    address = cluster.tftp_address("cucm1")
    with network.impair("tftp", loss=0.3, seed=4242, node="cucm1") as injection:
        assert tftpy_download(address, "big.bin") == BIG
    counts = cluster.plane.endpoint(Service.TFTP, "cucm1").path.counts
    lost, sent = counts["datagram lost"], counts["datagram sent"]
    assert lost > 0 and 0.1 < lost / (lost + sent) < 0.6, counts
    assert injection.taken == lost
    assert [t.what for t in injection.history] == ["applied", "lifted"]
    assert tftpy_download(address, "big.bin") == BIG  # restored


def test_same_seed_loses_the_same_packets(cluster: Cluster, network: Network) -> None:
    address, path = cluster.tftp_address("cucm1"), cluster.plane.endpoint(Service.TFTP,
                                                                         "cucm1").path
    lost = []
    for seed in (7, 7):
        path.counts.clear()
        with network.impair("tftp", loss=0.25, seed=seed, node="cucm1"):
            assert tftpy_download(address, "big.bin") == BIG
        lost.append(path.counts["datagram lost"])
    assert lost[0] == lost[1] and lost[0] > 0, lost


def test_tftp_outage_then_recovery(cluster: Cluster, network: Network) -> None:
    address = cluster.tftp_address("cucm1")
    with network.outage("tftp", 1.2, node="cucm1"):
        with pytest.raises(tftpy.TftpException):
            tftpy_download(address, "big.bin", timeout=0.3, retries=1)
        time.sleep(1.3)
        assert tftpy_download(address, "big.bin") == BIG  # the window ended on time


def test_tftp_delay_holds_every_datagram(cluster: Cluster, network: Network) -> None:
    address = cluster.tftp_address("cucm1")
    start = time.monotonic()
    with network.impair("tftp", delay=0.05, node="cucm1"):
        assert tftpy_download(address, "big.bin") == BIG
    took = time.monotonic() - start
    assert 13 * 0.05 <= took < 13 * 0.05 + 2.0, took  # no options: 13 DATA, each held


def test_twin_phone_tftp_client_retransmits_its_request() -> None:
    """A server that never answers hears the twin phone's RRQ 1 + `retries` times, one
    `timeout` apart, before the phone gives up (what firmware's TFTP timeout does)."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.212.0.9", 0))
    silent.settimeout(0.1)
    options = tftp_client.TftpOptions(timeout=0.3, retries=3)
    with BackgroundLoop("rrq-retransmit") as loop:
        started = time.monotonic()
        future = asyncio.run_coroutine_threadsafe(tftp_client.fetch(
            silent.getsockname(), "ITLFile.tlv", local_host=PHONE_IP, options=options),
            loop.loop)
        heard: list[float] = []
        while not future.done() and time.monotonic() - started < 5:
            try:
                silent.recvfrom(1024)
                heard.append(time.monotonic() - started)
            except TimeoutError:
                pass
        with pytest.raises(tftp_client.TftpTimeout):
            future.result(timeout=1)
    silent.close()
    assert len(heard) == 4, heard
    gaps = [b - a for a, b in itertools.pairwise(heard)]
    assert all(0.25 < g < 0.5 for g in gaps), gaps


def test_twin_phone_fetches_through_loss(cluster: Cluster, network: Network) -> None:
    address = cluster.tftp_address("cucm1")
    options = tftp_client.TftpOptions(timeout=0.5, retries=6)
    with network.impair("tftp", loss=0.3, seed=31, node="cucm1"), \
            BackgroundLoop("twin-fetch") as loop:
        data = loop.run(tftp_client.fetch(address, "big.bin", local_host=PHONE_IP,
                                          options=options), timeout=60)
    assert data == BIG


# --- connections -----------------------------------------------------------------------------
def test_tvs_outage_resets_new_connections_then_serves_again(cluster: Cluster,
                                                             network: Network) -> None:
    address = cluster.plane.endpoint(Service.TVS, "cucm1").address
    with network.outage("tvs", 0.8, node="cucm1"):
        with pytest.raises((ConnectionError, ssl.SSLError)):
            tls_connect(address).close()
        time.sleep(0.9)
        tls_connect(address).close()  # back on time


def test_outage_cuts_a_live_connection(cluster: Cluster, network: Network) -> None:
    address = cluster.plane.endpoint(Service.CAPF, "cucm1").address
    with tls_connect(address) as tls:
        tls.settimeout(3)
        first = tls.recv(4096)  # CAPF speaks first: AUTH_REQUEST
        assert first
        mark = cluster.events.mark()
        with network.outage("capf", 1.0):
            start = time.monotonic()
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)) as cut:
                while tls.recv(4096):  # EOF or a reset, not the 3 s timeout
                    pass
                raise ConnectionResetError("closed")
            assert time.monotonic() - start < 1.0, cut.value
    kinds = [e.kind for e in cluster.events.since(mark) if e.source == "network"]
    assert kinds == ["network.impaired", "network.out", "network.restored"], kinds


def test_outage_at_the_first_connection_lets_it_start_then_cuts_it(
        cluster: Cluster, network: Network) -> None:
    address = cluster.plane.endpoint(Service.CAPF, "cucm1").address
    with network.outage("capf", 1.0, at_connection=1, start=0.3) as injection:
        with tls_connect(address) as tls:
            tls.settimeout(3)
            assert tls.recv(4096)  # the session began
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
                while tls.recv(4096):
                    pass
                raise ConnectionResetError("closed")
        assert injection.out
        with pytest.raises((ConnectionError, ssl.SSLError)):
            tls_connect(address).close()
        time.sleep(1.1)
        tls_connect(address).close()
    assert [t.what for t in injection.history] == ["applied", "out", "back", "lifted"]


def test_connection_delay_and_syn_loss_hold_the_set_up(cluster: Cluster,
                                                       network: Network) -> None:
    address = cluster.plane.endpoint(Service.HTTPS, "cucm1").address
    with network.impair("https", delay=0.3, node="cucm1"):
        start = time.monotonic()
        tls_connect(address).close()
        assert 0.3 <= time.monotonic() - start < 1.5
    with network.impair("https", loss=1.0, node="cucm1", limit=30), \
            pytest.raises((TimeoutError, ConnectionError, ssl.SSLError)):
        tls_connect(address, timeout=1.5).close()  # every SYN-ACK lost: 63 s to answer


# --- the fixture's promises --------------------------------------------------------------------
def test_restored_after_an_exception(cluster: Cluster, network: Network) -> None:
    path = cluster.plane.endpoint(Service.TFTP, "cucm1").path
    with pytest.raises(RuntimeError, match="test body failed"), \
            network.impair("tftp", loss=1.0, node="cucm1"):
        assert path.impaired
        raise RuntimeError("test body failed")
    assert not path.impaired
    assert tftpy_download(cluster.tftp_address("cucm1"), "big.bin") == BIG


def test_hard_limit_holds_when_the_block_outlives_it(cluster: Cluster,
                                                    network: Network) -> None:
    path = cluster.plane.endpoint(Service.TFTP, "cucm2").path
    with network.impair("tftp", loss=1.0, node="cucm2", limit=0.5) as injection:
        time.sleep(0.7)
        assert injection.over and not path.impaired
        assert tftpy_download(cluster.tftp_address("cucm2"), "big.bin") == BIG


def test_restore_lifts_what_a_test_left(cluster: Cluster, network: Network) -> None:
    paths = [e.path for e in cluster.plane.of(Service.TVS)]
    block = network.outage("tvs", 30.0)
    block.__enter__()  # a test that never leaves its block
    assert all(p.out for p in paths)
    network.restore()
    assert not any(p.impaired for p in paths)


def test_seed_is_recorded_and_noted(cluster: Cluster, tmp_path: Path) -> None:
    notes: list[str] = []
    events = EventLog()
    net = Network(cluster, twin_applier, events, notes)
    with net.impair("tftp", loss=0.1, seed=8080):
        pass
    assert "seed 8080" in notes[0] and "PHONELAB_NETWORK_SEED=8080" in notes[0]
    impaired = next(e for e in events.since(0) if e.kind == "network.impaired")
    assert impaired.data["seed"] == 8080 and impaired.data["service"] == "tftp"


def test_environment_seed_reruns(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONELAB_NETWORK_SEED", "31337")
    net = Network(cluster, twin_applier, EventLog(), [])
    with net.impair("tvs", delay=0.01) as injection:
        assert injection.impairment.seed == 31337
    monkeypatch.setenv("PHONELAB_NETWORK_SEED", "abc")
    with pytest.raises(UsageError, match="PHONELAB_NETWORK_SEED"), net.impair("tvs"):
        pass


def test_unknown_service_or_node_is_a_usage_error(cluster: Cluster, network: Network) -> None:
    with pytest.raises(UsageError, match="unknown service 'ftp'"), network.impair("ftp"):
        pass
    with pytest.raises(UsageError, match="capf does not run on node cucm2"), \
            network.impair("capf", node="cucm2"):
        pass
    with pytest.raises(UsageError, match="loss"), network.impair("tftp", loss=2):
        pass


def test_outage_object_reaches_the_endpoints(cluster: Cluster, network: Network) -> None:
    with network.impair("tvs", outage=Outage(5.0, start=0.0), limit=10):
        assert all(e.path.out for e in cluster.plane.of(Service.TVS))
    assert not any(e.path.impaired for e in cluster.plane.of(Service.TVS))


# --- SIP (the registrar: UDP, TCP) ----------------------------------------------------------
def sip_request(port: int) -> bytes:
    """A REGISTER without a device identity: the registrar answers 400, records nothing."""
    return (f"REGISTER sip:127.212.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {PHONE_IP}:5060;branch=z9hG4bKimpair\r\n"
            f"From: <sip:alice@{PHONE_IP}>;tag=1\r\nTo: <sip:alice@{PHONE_IP}>\r\n"
            "Call-ID: impair@phonelab\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n").encode()


def sip_udp_answer(address: tuple[str, int], wait: float) -> tuple[bytes | None, float]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((PHONE_IP, 0))
        sock.settimeout(wait)
        start = time.monotonic()
        sock.sendto(sip_request(address[1]), address)
        try:
            return sock.recv(65535), time.monotonic() - start
        except TimeoutError:
            return None, time.monotonic() - start


def test_sip_udp_delay_outage_and_tcp_reset(cluster: Cluster, network: Network) -> None:
    address = cluster.plane.endpoint(Service.SIP, "cucm1").address
    answer, _ = sip_udp_answer(address, 3)
    assert answer is not None and answer.startswith(b"SIP/2.0 400")
    with network.impair("sip", delay=0.3, node="cucm1"):
        answer, took = sip_udp_answer(address, 3)
        assert answer is not None and 0.3 <= took < 1.5, took
    with network.outage("sip", 5.0, node="cucm1"):
        assert sip_udp_answer(address, 0.5)[0] is None
        # reset while out: at connect() when the RST wins the race, else at the first read
        with pytest.raises(ConnectionError), socket.create_connection(
                address, timeout=3, source_address=(PHONE_IP, 0)) as tcp:
            tcp.sendall(sip_request(address[1]))
            if not tcp.recv(100):
                raise ConnectionResetError("closed")
    answer, _ = sip_udp_answer(address, 3)
    assert answer is not None and answer.startswith(b"SIP/2.0 400")


# --- the rack's applier: what netem would be told -------------------------------------------
def test_hardware_backend_targets_each_service_by_source_port(cluster: Cluster) -> None:
    from fixtures.backend import BackendOptions, HardwareBackend
    from fixtures.netem import EPHEMERAL, Netem
    from lab_topology import load_lab

    lab_spec = load_lab(Path(__file__).parents[2] / "lab_topology" / "rack-example.yaml")
    backend = HardwareBackend(lab_spec, BackendOptions())

    def targets(service: Service) -> list[tuple[str, str, tuple[tuple[int, int], ...]]]:
        applier = backend.network_applier(cluster, service, cluster.plane.of(service))
        assert isinstance(applier, Netem)
        return [(t.address, t.protocol, t.ports) for t in applier.targets]

    tftp = {e.host: e.port for e in cluster.plane.of(Service.TFTP)}
    assert sorted(targets(Service.TFTP)) == sorted(
        (host, "udp", ((port, 0xFFFF), EPHEMERAL)) for host, port in tftp.items())
    tvs = cluster.plane.endpoint(Service.TVS, "cucm1")
    assert (tvs.host, "tcp", ((tvs.port, 0xFFFF),)) in targets(Service.TVS)
    sip = cluster.plane.endpoint(Service.SIP, "cucm1")
    sip_targets = targets(Service.SIP)
    assert (sip.host, "udp", ((sip.port, 0xFFFF),)) in sip_targets
    assert any(p == "tcp" and (sip.port, 0xFFFF) in ports for _, p, ports in sip_targets)


def test_one_impairment_per_service_at_a_time(cluster: Cluster, network: Network) -> None:
    with network.impair("tvs", delay=0.01):
        with pytest.raises(UsageError, match="tvs is already impaired"), \
                network.outage("tvs", 1.0):
            pass
        with network.impair("capf", delay=0.01):  # another service: fine on the twin
            pass
    with network.outage("tvs", 1.0):  # the first one is over
        pass


def test_a_held_connection_is_closed_when_the_service_stops(cluster: Cluster,
                                                           network: Network) -> None:
    endpoint = cluster.plane.endpoint(Service.HTTPS, "cucm1")
    with network.impair("https", delay=30.0, node="cucm1", limit=60), \
            socket.create_connection(endpoint.address, timeout=3,
                                     source_address=(PHONE_IP, 0)) as held:
        time.sleep(0.2)  # accepted, and held by the delay
        endpoint.restart()
        held.settimeout(3)
        with contextlib.suppress(ConnectionResetError):
            assert held.recv(100) == b""  # closed, not left open for 30 s


def test_an_impairment_outlives_a_service_restart(cluster: Cluster, network: Network) -> None:
    """The path is the network's, not the process's: restarting TVS does not clear it."""
    address = cluster.plane.endpoint(Service.TVS, "cucm1").address
    with network.outage("tvs", 10.0, node="cucm1"):
        cluster.restart_service(Service.TVS, "cucm1")
        with pytest.raises((ConnectionError, ssl.SSLError)):
            tls_connect(address).close()
    tls_connect(address).close()
