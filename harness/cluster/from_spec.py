"""Build a Cluster's state from a topology rack: the one place that maps YAML to model."""

from __future__ import annotations

from harness.cluster.plane import Ports
from harness.cluster.releases import Release
from harness.cluster.state import ClusterState, Node, Param, PhoneRecord, SecurityMode, Service
from lab_topology.schema import RackSpec


def cluster_state(rack: RackSpec) -> ClusterState:
    """Nodes, release, mode, parameters and the phones in the database."""
    spec = rack.cluster
    state = ClusterState(
        [Node(n.name, str(n.address), frozenset(Service(s) for s in n.services))
         for n in spec.nodes],
        release=Release.parse(spec.release),
        mode=SecurityMode(spec.security_mode),
        parameters={Param.PREPARE_ROLLBACK: spec.prepare_rollback,
                    Param.AUTO_REGISTRATION: spec.auto_registration},
    )
    for phone in rack.phones:
        if not phone.in_database:
            continue
        state.add_phone(PhoneRecord(
            phone.name, phone.model, phone.protocol, encrypted_config=phone.encrypted_config,
            capf_operation=phone.capf.operation, capf_auth=phone.capf.auth,
            capf_password=phone.capf.password, key_size=phone.capf.key_size))
    return state


def cluster_ports(rack: RackSpec) -> Ports:
    p = rack.cluster.ports
    return Ports(tftp=p.tftp, tvs=p.tvs, capf=p.capf, https=p.https, sip=p.sip)
