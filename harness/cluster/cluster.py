"""The Cluster: one CUCM-like cluster whose security plane runs for real.

Holds the state, the lab PKI and the endpoints, and offers one method per
documented step (docs/SECURITY_BY_DEFAULT.md §6-§10). Order rules are deliberately
not enforced: a test must be able to do the wrong thing (regenerate TFTP and
TVS together, roll back unprepared) and observe what phones do. Every step is
recorded on the event timeline as `cluster.step` with the documented wording.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from cryptography import x509

from harness.aio import BackgroundLoop
from harness.cluster import fileset
from harness.cluster.admin import ClusterAdmin
from harness.cluster.configs import CallManager, Endpoints
from harness.cluster.plane import Ports, ServicePlane
from harness.cluster.state import ClusterState, Param, SecurityMode, Service
from harness.cluster.trust import capf_records, trusted_entries
from harness.errors import UsageError
from harness.events import EventLog
from harness.pki import CertRole, Identity, LabPKI
from harness.services.capf_directory import DeviceRecord
from harness.services.cgi_auth import PATH as AUTH_PATH
from harness.services.deflated_files import sample_dictionary
from harness.services.https import HttpsServicesEndpoint
from harness.services.registrar import Registrar
from harness.services.sccp import SccpEndpoint
from harness.services.sip_binding import Admission
from harness.services.truststore import TrustEntry

PowerCycle = Callable[[str], None]


class Cluster(ClusterAdmin):
    """A cluster's state + PKI + live endpoints, driven by procedure methods."""

    def __init__(self, state: ClusterState, pki: LabPKI, *, events: EventLog | None = None,
                 ports: Ports | None = None, loop: BackgroundLoop | None = None,
                 name: str = "cluster") -> None:
        self.state, self.pki, self.name = state, pki, name
        self.events = events if events is not None else EventLog()
        self._own_loop = loop is None
        self.loop = loop or BackgroundLoop(f"{name}-loop")
        self.plane = ServicePlane(state, pki, self.events, self.loop, ports or Ports(),
                                  self._registration_policy)
        self.peer_entries: dict[str, list[TrustEntry]] = {}
        self.power_cycle: PowerCycle | None = None  # set by the lab for reset(how="power")
        self._stamp = int(time.time())
        self._signers: dict[str, Identity] = {}  # TFTP key each node published with
        self.plane.capf_directory.subscribe(self._on_capf_change)
        self.sync_trust()
        self.sync_capf()

    # --- lifecycle -------------------------------------------------------
    def start(self) -> None:
        """Start every endpoint the release runs; TFTP last, once it can name the others."""
        for (service, _node), endpoint in self.plane.endpoints.items():
            if service is not Service.TFTP and self._runs(service):
                endpoint.start()
        for node in self.state.nodes_running(Service.TFTP):
            self.restart_service(Service.TFTP, node.name, record=False)

    def stop(self) -> None:
        self.plane.stop_all()
        if self._own_loop:
            self.loop.close()

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _runs(self, service: Service) -> bool:
        """TVS exists only from 8.0 on."""
        return service is not Service.TVS or self.state.release.has_security_by_default

    # --- what phones are told and served ------------------------------------
    def endpoints_for_phones(self) -> Endpoints:
        def where(service: Service) -> list[tuple[str, int]]:
            return [e.address for e in self.plane.of(service) if e.running]

        https = where(Service.HTTPS)
        auth = [e.http_address for e in self.plane.of(Service.HTTPS)
                if isinstance(e, HttpsServicesEndpoint) and e.running]
        return Endpoints(
            call_managers=self._call_managers(), tvs=where(Service.TVS), capf=where(Service.CAPF),
            services_url=f"https://{https[0][0]}:{https[0][1]}/services" if https else None,
            secure=self.state.mode is SecurityMode.MIXED,
            authentication_url=(f"http://{auth[0][0]}:{auth[0][1]}{AUTH_PATH}"
                                if auth else None),  # plain HTTP: docs/REAL_WIRE.md §6.4
        )

    def allow_cgi_user(self, user: str, password: str) -> None:
        """The lab user the `authenticationURL` answers AUTHORIZED for (docs/REAL_WIRE.md
        §6.2), on every node's phone-services endpoint."""
        for endpoint in self.plane.of(Service.HTTPS):
            if isinstance(endpoint, HttpsServicesEndpoint):
                endpoint.authenticator.allow(user, password)

    def _call_managers(self) -> list[CallManager]:
        """Nodes running the CallManager service (SIP or SCCP side), with their ports."""
        managers = []
        for node in self.state.nodes:
            ports: dict[Service, int] = {}
            for service in (Service.SIP, Service.SCCP):
                endpoint = self.plane.endpoints.get((service, node.name))
                if endpoint is not None and endpoint.running:
                    ports[service] = endpoint.address[1]
            if ports:
                managers.append(CallManager(
                    node.address, sip_port=ports.get(Service.SIP, 5060),
                    sccp_port=ports.get(Service.SCCP, 2000),
                    secured_sip_port=self.plane.secured_sip_port(node.name),
                    description=node.name))
        return managers

    def tftp_address(self, node: str | None = None) -> tuple[str, int]:
        name = node or self.state.nodes_running(Service.TFTP)[0].name
        return self.plane.endpoint(Service.TFTP, name).address

    def served(self, name: str, node: str | None = None) -> bytes | None:
        """What the TFTP service on `node` (default: the first) serves under `name`."""
        tftp = node or self.state.nodes_running(Service.TFTP)[0].name
        return self.plane.served[tftp].lookup(name)  # the generated set, then firmware folders

    def device_certificates(self) -> dict[str, x509.Certificate]:
        return {r.name: r.certificate for r in self.plane.capf_directory.records()
                if r.certificate is not None}

    # --- synchronisation -------------------------------------------------
    def sync_trust(self) -> None:
        """TVS answers from the current certificates at once, no restart (§2)."""
        peers = [e for entries in self.peer_entries.values() for e in entries]
        self.plane.trust.replace(trusted_entries(self.state, self.pki) + peers)

    def sync_capf(self) -> None:
        """CAPF's device table follows the phone records (operation, auth, key size)."""
        known = {r.name: r for r in self.plane.capf_directory.records()}
        for record in capf_records(self.state, known):
            self.plane.capf_directory.put(record)

    def _on_capf_change(self, record: DeviceRecord) -> None:
        """A new LSC changes that phone's encrypted config at once, as on CUCM."""
        phone = self.state.phones.get(record.name)
        if phone is None:
            return
        phone.capf_operation = record.operation.value  # done: back to "none" (§6.9)
        self._republish(phone.name)

    def update_phone(self, name: str, **changes: Any) -> None:
        """Device > Phone > Save and Apply Config: that phone's files change at once."""
        phone = self.state.phones.get(name)
        if phone is None:
            raise UsageError(f"no phone {name} in the cluster database")
        for key, value in changes.items():
            if not hasattr(phone, key):
                raise UsageError(f"phone records have no field {key!r}")
            setattr(phone, key, value)
        self._step(f"Save and apply config for {name}",
                   **{k: v for k, v in changes.items() if "password" not in k})
        self.sync_capf()
        self._republish(name)

    def _republish(self, name: str) -> None:
        """Rebuild one phone's config files with the key TFTP last published with."""
        phone = self.state.phones[name]
        cert = self.device_certificates().get(name)
        for node in self.state.nodes_running(Service.TFTP):
            signer = self._signers.get(node.name)
            if signer is None:  # TFTP never started: nothing published yet
                continue
            self.plane.files[node.name].update(fileset.phone_files(
                self.state, phone, signer, self.endpoints_for_phones(), cert,
                self._next_stamp()))

    def _registration_policy(self, device: str, dn: str) -> Admission:
        """CUCM's check of a REGISTER: the DN must be one of the device's lines;
        unknown devices only by auto-registration, never in mixed mode. A line-less
        phone, and an SCCP Register (which names no DN), go by the device name."""
        phone = self.state.phones.get(device)
        if phone is not None:
            lines = tuple(line.dn for line in phone.lines)
            if dn in lines or (dn == device and (not lines or phone.protocol == "SCCP")):
                return Admission(200, "OK", lines or (dn,))
            return Admission(403, f"{dn} is not a line of {device}", lines)
        if self.state.mode is SecurityMode.MIXED:
            return Admission(403, "Auto-registration not supported in mixed mode")
        if not self.state.parameters[Param.AUTO_REGISTRATION]:
            return Admission(403, "Auto-registration is disabled")
        return Admission(200, "OK", (dn,))

    def _next_stamp(self) -> int:
        self._stamp = max(self._stamp + 1, int(time.time()))
        return self._stamp

    def _step(self, text: str, **data: Any) -> None:
        self.events.record("cluster.step", source=self.name, step=text, **data)

    # --- procedures ------------------------------------------------------
    def regenerate_certificate(self, role: str, node: str | None = None) -> None:
        """Regenerate a certificate; TVS and Tomcat present theirs at once (their
        services restart by themselves), CAPF after a CAPF restart, TFTP only in
        files built at the next TFTP restart."""
        cert_role = CertRole.parse(role)
        if not cert_role.per_node:
            self.pki.regenerate(cert_role)
            self._step(f"Regenerate the {cert_role.value} certificate")
            self.sync_trust()
            return
        for name in [node] if node else [n.name for n in self.state.nodes]:
            self.pki.regenerate(cert_role, name)
            self._step(f"Regenerate the {cert_role.value} certificate", node=name)
            for service in {CertRole.tvs: [Service.TVS], CertRole.tomcat: [Service.HTTPS]}.get(
                    cert_role, []):
                self.plane.reload_identity(service, name)
                if (endpoint := self.plane.endpoints.get((service, name))) and endpoint.running:
                    endpoint.restart()
        self.sync_trust()

    def restart_service(self, service: Service | str, node: str | None = None, *,
                        record: bool = True) -> None:
        """Restart a service on `node`, or on every node running it."""
        service = Service(service)
        nodes = [node] if node else [n.name for n in self.state.nodes_running(service)]
        for name in nodes:
            if (service, name) not in self.plane.endpoints:
                raise UsageError(f"{service.value} does not run on {name}")
            if record:
                self._step(f"Restart the {service.value} service", node=name)
            self.plane.reload_identity(service, name)
            endpoint = self.plane.endpoint(service, name)
            endpoint.stop()
            if service is Service.TFTP:
                self._publish(name)
            if self._runs(service):
                endpoint.start()

    def _publish(self, node: str) -> None:
        args = (self.state, self.pki, self.state.node(node), self.endpoints_for_phones(),
                self._next_stamp(), self.device_certificates())
        alike = fileset.alike_phones(self.state)
        samples = dict(fileset.file_set(*args, phones=alike))  # shared files + one per shape
        chosen = {phone.name for phone in alike}
        rest = fileset.file_set(*args, phones=(p for p in self.state.phones.values()
                                               if p.name not in chosen), shared=False)
        published = self.plane.files[node]  # filled one phone at a time, kept deflated
        published.replace(itertools.chain(samples.items(), rest),
                          dictionary=sample_dictionary(samples))
        signer = self._signers[node] = self.pki.identity(CertRole.tftp, node)
        self.events.record("tftp.rebuilt", source=f"tftp@{node}", node=node,
                           files=len(published.names()),
                           itl_signer_serial=f"{signer.serial:x}",
                           rollback=self.state.parameters[Param.PREPARE_ROLLBACK])

    def run_ctl_client(self) -> None:
        """The CTL client: (re)writes CTLFile.tlv on every TFTP server at once, in mixed mode."""
        self._step("Run the CTL client")
        self.state.mode = SecurityMode.MIXED
        self.state.ctl_current = True
        self.sync_trust()  # the tokens are now in the Phone-SAST-trust store
        for node in self.state.nodes_running(Service.TFTP):
            self.plane.files[node.name].update(fileset.ctl_file(self.state, self.pki,
                                                               self._next_stamp()))

    def reset_phones(self, how: str = "notify", action: str = "reset") -> list[str]:
        """Reset (or restart) every phone: to registered phones over SIP (NOTIFY) or SCCP
        (Reset), or by power."""
        self._step(f"{action.capitalize()} all phones", how=how)
        if how == "power":
            if self.power_cycle is None:
                raise UsageError("no power control attached to this cluster")
            for phone in self.state.phones:
                self.power_cycle(phone)
            return list(self.state.phones)
        if how != "notify":
            raise UsageError(f"reset how={how!r}: use 'notify' or 'power'")
        done: list[str] = []
        for registrar in self.plane.of(Service.SIP):
            if isinstance(registrar, Registrar) and registrar.running:
                done += [d for d in registrar.devices() if registrar.notify(d, action)]
        for sccp in self.plane.of(Service.SCCP):
            if isinstance(sccp, SccpEndpoint) and sccp.running:
                done += [d for d in list(sccp.registrations) if sccp.notify(d, action)]
        return done
