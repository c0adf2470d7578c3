"""The cluster's SCCP side: its device policy, reset procedure and certificate follow-up."""

from __future__ import annotations

import socket
import struct

from harness.cluster.cluster import Cluster
from harness.cluster.state import Service
from harness.pki import CertRole
from harness.services.sccp import SccpEndpoint
from harness.tls import client_context
from tests.cluster.conftest import PHONE, ClusterFactory
from tests.services import sccp_station as st
from tests.services.sccp_station import Station, register_body

UNKNOWN = "SEP0000DEADBEEF"


def sccp(cluster: Cluster, node: str = "cucm1") -> SccpEndpoint:
    endpoint = cluster.plane.endpoint(Service.SCCP, node)
    assert isinstance(endpoint, SccpEndpoint)
    return endpoint


def registered(cluster: Cluster, device: str) -> Station:
    station = Station.connect(sccp(cluster).address)
    station.send(st.REGISTER, register_body(device, ip="127.0.0.1"))
    return station


def test_each_call_manager_node_runs_sccp_and_configs_name_its_port(cluster: Cluster) -> None:
    ports = {m.address: m.sccp_port for m in cluster.endpoints_for_phones().call_managers}
    for node in ("cucm1", "cucm2"):
        endpoint = cluster.plane.endpoints.get((Service.SCCP, node))
        if endpoint is None:  # cucm2 of the fixture runs no SCCP
            continue
        assert ports[cluster.state.node(node).address] == endpoint.address[1]


def test_mixed_mode_rejects_an_unknown_device_and_accepts_a_known_one(
        make_cluster: ClusterFactory) -> None:
    cluster = make_cluster(mode="mixed")
    station = registered(cluster, UNKNOWN)
    assert station.expect(st.REGISTER_REJECT).rstrip(b"\0") == b"Device Unknown"
    assert station.closed()
    rejected = cluster.events.of_kind("sccp.register_rejected")
    assert rejected[0].phone == UNKNOWN and rejected[0].data["status"] == 403
    known = registered(cluster, PHONE)
    known.expect(st.REGISTER_ACK)
    known.close()


def test_non_secure_auto_registration_follows_the_parameter(cluster: Cluster) -> None:
    station = registered(cluster, UNKNOWN)
    station.expect(st.REGISTER_ACK)
    station.close()
    cluster.set_parameter("Auto Registration", False)
    station = registered(cluster, UNKNOWN)
    station.expect(st.REGISTER_REJECT)
    station.close()


def test_reset_phones_reaches_sccp_phones_with_reset_type_2(cluster: Cluster) -> None:
    station = registered(cluster, PHONE)
    station.expect(st.REGISTER_ACK)
    station.expect(st.CAPABILITIES_REQ)
    assert PHONE in cluster.reset_phones(action="restart")
    assert struct.unpack("<I", station.expect(st.RESET)) == (2,)
    station.close()


def test_restarting_sccp_drops_phones_and_serves_the_regenerated_callmanager_cert(
        cluster: Cluster) -> None:
    station = registered(cluster, PHONE)
    station.expect(st.REGISTER_ACK)
    port = sccp(cluster).address[1]
    cluster.regenerate_certificate("tftp", "cucm1")
    cluster.restart_service("sccp", "cucm1")
    assert station.closed() and PHONE not in sccp(cluster).registrations
    assert sccp(cluster).address[1] == port  # phones find it where they were told
    tls = sccp(cluster).tls_address
    assert tls is not None and tls[1] == port + 443
    context = client_context(cluster.pki.issue_mic(PHONE, "7962"))
    with socket.create_connection(tls, timeout=3) as raw, context.wrap_socket(raw) as tls_sock:
        assert tls_sock.getpeercert(binary_form=True) == cluster.pki.identity(
            CertRole.tftp, "cucm1").der
