"""Build a Cluster's state from a topology rack: the one place that maps YAML to model."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509

from harness.cluster.plane import Ports
from harness.cluster.releases import Release
from harness.cluster.state import (
    ClusterState,
    FirmwareLoad,
    LineRecord,
    Node,
    Param,
    PhoneRecord,
    SecurityMode,
    Service,
)
from harness.errors import UsageError
from harness.tls import TlsChoice, TlsPolicyError
from lab_topology.schema import PhoneSpec, RackSpec


def cluster_state(rack: RackSpec,
                  ssh_logins: Mapping[str, tuple[str, str]] | None = None) -> ClusterState:
    """Nodes, release, mode, parameters and the phones in the database; `ssh_logins`
    (phone → user, password) become the phones' sshUserId/sshPassword."""
    logins = ssh_logins or {}
    spec = rack.cluster
    state = ClusterState(
        [Node(n.name, str(n.address), frozenset(Service(s) for s in n.services))
         for n in spec.nodes],
        release=Release.parse(spec.release),
        mode=SecurityMode(spec.security_mode),
        parameters={Param.PREPARE_ROLLBACK: spec.prepare_rollback,
                    Param.AUTO_REGISTRATION: spec.auto_registration},
    )
    for index, phone in enumerate(rack.phones):
        if not phone.in_database:
            continue
        ssh_user, ssh_password = logins.get(phone.name, (None, None))
        state.add_phone(PhoneRecord(
            phone.name, phone.model, phone.protocol, encrypted_config=phone.encrypted_config,
            capf_operation=phone.capf.operation, capf_auth=phone.capf.auth,
            capf_password=phone.capf.password, key_size=phone.capf.key_size,
            lines=phone_lines(rack, index),
            ssh_user=ssh_user, ssh_password=ssh_password))
    for ca in spec.mic_cas:
        try:
            state.mic_cas += x509.load_pem_x509_certificates(Path(ca).read_bytes())
        except (OSError, ValueError) as exc:
            raise UsageError(f"mic_cas: cannot load {ca}: {exc}") from None
    for load in rack.firmware:
        state.firmware[load.model] = FirmwareLoad(load.model, load.load, load.directory)
    state.tls = TlsChoice(spec.tls.minimum_version,
                          tuple(spec.tls.suites) if spec.tls.suites else None)
    try:
        state.tls.policy(state.release.major, state.release.minor)
    except TlsPolicyError as exc:
        raise UsageError(f"cluster.tls: {exc}") from None
    return state


def ssh_logins(rack: RackSpec,
               environ: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """SSH user and password of every phone with an ssh:// console, from the environment
    variables its topology entry names (UsageError naming every missing one)."""
    phones = [p for p in rack.phones if p.console is not None and p.console.is_ssh]
    missing = [f"{name} ({p.name})" for p in phones for name in _unset(p, environ)]
    if missing:
        raise UsageError(f"rack {rack.name}: set {', '.join(missing)} in the environment "
                         "(phone SSH credentials are never kept in the topology)")
    return {p.name: ssh_login(p, environ) for p in phones}


def ssh_login(phone: PhoneSpec, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """One phone's SSH user and password (UsageError naming what is unset)."""
    env = os.environ if environ is None else environ
    if phone.console is None or not phone.console.is_ssh:
        raise UsageError(f"{phone.name}: its console is not ssh://")
    if missing := _unset(phone, env):
        raise UsageError(f"{phone.name}: set {' and '.join(missing)} in the environment "
                         "(phone SSH credentials are never kept in the topology)")
    login = phone.console.ssh_login
    return env[login.username_env], env[login.password_env]


def _unset(phone: PhoneSpec, environ: Mapping[str, str] | None) -> list[str]:
    env = os.environ if environ is None else environ
    assert phone.console is not None
    login = phone.console.ssh_login
    return [name for name in (login.username_env, login.password_env) if not env.get(name)]


def default_dn(rack: RackSpec, index: int) -> str:
    """The DN of a phone without `lines:`: 1001, 1002… by its position in the rack."""
    del rack
    return str(1001 + index)


def phone_lines(rack: RackSpec, index: int) -> list[LineRecord]:
    """The phone's lines from the topology, or one default line; contacts are stable UUIDs."""
    phone = rack.phones[index]
    specs = [(line.dn, line.label) for line in phone.lines] or [(default_dn(rack, index), "")]
    return [LineRecord(dn, label or dn, line_contact(phone.name, n))
            for n, (dn, label) in enumerate(specs, start=1)]


def line_contact(device: str, button: int) -> str:
    """A per-line UUID like CUCM's `<contact>`, derived from device and button (stable)."""
    digest = uuid.uuid5(uuid.NAMESPACE_OID, f"phonelab:{device}:{button}")
    return str(digest)


def cluster_ports(rack: RackSpec) -> Ports:
    p = rack.cluster.ports
    return Ports(tftp=p.tftp, tvs=p.tvs, capf=p.capf, https=p.https, sip=p.sip, sccp=p.sccp,
                 sip_tls=p.sip_tls, sccp_tls=p.sccp_tls)
