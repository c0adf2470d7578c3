"""A running two-node cluster for the cluster tests (PKI generated once per session)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tftpy

from harness.cluster.cluster import Cluster
from harness.cluster.state import ClusterState, Node, PhoneRecord, Service
from harness.events import EventLog
from harness.pki import LabPKI

PHONE = "SEP00000A000001"
ENCRYPTED = "SEP00000A000003"
LEGACY = "SEP00000A000004"


@pytest.fixture(scope="session")
def pki_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cluster-pki") / "pki"
    LabPKI.init(root, ["cucm1", "cucm2"])
    return root


@pytest.fixture
def pki(pki_template: Path, tmp_path: Path) -> LabPKI:
    shutil.copytree(pki_template, tmp_path / "pki")
    return LabPKI.load(tmp_path / "pki")


def make_state(release: str = "8.0", mode: str = "non-secure") -> ClusterState:
    from harness.cluster.releases import Release
    from harness.cluster.state import SecurityMode

    state = ClusterState(
        [Node("cucm1", "127.0.1.1"),
         Node("cucm2", "127.0.1.2", frozenset({Service.TFTP, Service.TVS, Service.SIP}))],
        release=Release.parse(release), mode=SecurityMode(mode))
    state.add_phone(PhoneRecord(PHONE, "7962"))
    state.add_phone(PhoneRecord(ENCRYPTED, "7942", encrypted_config=True,
                                capf_operation="install", capf_auth="password",
                                capf_password="1234", key_size=1024))
    state.add_phone(PhoneRecord(LEGACY, "7960"))
    return state


ClusterFactory = Callable[..., Cluster]


@pytest.fixture
def make_cluster(pki: LabPKI) -> Iterator[ClusterFactory]:
    started: list[Cluster] = []

    def factory(release: str = "8.0", mode: str = "non-secure", name: str = "cluster",
                lab_pki: LabPKI | None = None) -> Cluster:
        cluster = Cluster(make_state(release, mode), lab_pki or pki, events=EventLog(),
                          name=name)
        cluster.start()
        started.append(cluster)
        return cluster

    yield factory
    for cluster in started:
        cluster.stop()


@pytest.fixture
def cluster(make_cluster: ClusterFactory) -> Cluster:
    return make_cluster()


def download(cluster: Cluster, name: str, tmp_path: Path, node: str | None = None) -> bytes | None:
    """Fetch `name` with tftpy's own client: an independent TFTP implementation."""
    host, port = cluster.tftp_address(node)
    target = tmp_path / f"dl-{name}"
    try:
        tftpy.TftpClient(host, port).download(name, str(target), timeout=2, retries=2)
    except tftpy.TftpException as exc:
        if "File not found" in str(exc):
            return None
        raise
    return target.read_bytes()
