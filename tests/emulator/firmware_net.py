"""Test stand-in for the twin's network layer: the TVS exchange and the boot sequence.

The firmware is pure, so its tests must play what the future network layer will
do: ask TVS when the firmware returns a `TvsNeeded` (`FakeTvs` accepts the TLS
handshake only if the phone trusts the server certificate, then answers from a
role store) and walk the §7.2 file sequence against a set of served files
(`boot`), so hazard scenarios read like the Cisco procedures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography import x509
from firmware_lab import CONFIG

from harness.formats.names import dn_string, same_dn
from harness.formats.trustlist import Role
from harness.pki.identity import Identity
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_types import (
    Decision,
    TvsAnswer,
    TvsKind,
    TvsNeeded,
    TvsReply,
    TvsStatus,
    TvsUnavailable,
)


@dataclass
class FakeTvs:
    """Stands in for the TVS exchange of the network layer (§5, §7.5)."""

    presents: Identity  # the certificate its TLS handshake shows
    store: dict[bytes, tuple[int, ...]] = field(default_factory=dict)
    ttl: int = 86400
    reachable: bool = True
    asked: list[TvsNeeded] = field(default_factory=list)

    def trust(self, who: Identity, *roles: int) -> FakeTvs:
        self.store[who.der] = roles
        return self

    def reply(self, fw: Firmware, need: TvsNeeded) -> TvsReply:
        self.asked.append(need)
        if not self.reachable or not need.servers:
            return TvsUnavailable("connect failed")
        if not fw.server_cert_trusted_for_tvs(self.presents.der):
            return TvsUnavailable("TLS failed: server certificate not in the ITL")
        for der, roles in self.store.items():
            cert = x509.load_der_x509_certificate(der)
            if need.kind is TvsKind.VERIFY:
                hit = der == need.certificate
            else:
                hit = cert.serial_number == need.serial
                hit = hit and same_dn(dn_string(cert.issuer), need.issuer)
            if hit:
                return TvsAnswer(TvsStatus.OK, roles, der, self.ttl)
        return TvsAnswer(TvsStatus.INVALID)


Call = Callable[[TvsReply | None], Decision | TvsNeeded]


def settle(fw: Firmware, call: Call, tvs: FakeTvs | None = None) -> Decision:
    """Run a firmware call, answering at most one TVS question."""
    result = call(None)
    if isinstance(result, TvsNeeded):
        result = call(tvs.reply(fw, result) if tvs else TvsUnavailable("no TVS in this test"))
    assert isinstance(result, Decision), result
    return result


def give_ctl(
    fw: Firmware, data: bytes, tvs: FakeTvs | None = None, name: str | None = None
) -> Decision:
    return settle(fw, lambda r: fw.accept_ctl(data, r, name=name), tvs)


def give_itl(
    fw: Firmware, data: bytes, tvs: FakeTvs | None = None, name: str | None = None
) -> Decision:
    return settle(fw, lambda r: fw.accept_itl(data, r, name=name), tvs)


def give_config(
    fw: Firmware, data: bytes, tvs: FakeTvs | None = None, name: str = f"{CONFIG}.sgn"
) -> Decision:
    return settle(fw, lambda r: fw.accept_config(name, data, r), tvs)


def boot(fw: Firmware, files: Mapping[str, bytes], tvs: FakeTvs | None = None) -> list[Decision]:
    """The §7.2 file sequence against `files`, as the network layer will run it."""
    decisions: list[Decision] = []
    for step in fw.trust_list_requests():
        for name in step.names:
            data = files.get(name)
            if data is None:
                decisions.append(fw.not_found(name))
                continue
            give = give_ctl if step.kind == "ctl" else give_itl
            decisions.append(give(fw, data, tvs, name))
            break
    pending = list(fw.config_requests().names)
    while pending:
        name = pending.pop(0)
        data = files.get(name)
        if data is None:
            decisions.append(fw.not_found(name))
            continue
        decision = give_config(fw, data, tvs, name)
        decisions.append(decision)
        if decision.fetch_next:
            pending = [decision.fetch_next]
        elif not decision.try_next:
            break
    return decisions


def cluster_tvs(tvs: Identity, *vouched: Identity) -> FakeTvs:
    """The cluster's TVS: knows the CallManager (TFTP) certs as SAST + CCM+TFTP."""
    fake = FakeTvs(tvs)
    for who in vouched:
        fake.trust(who, Role.SAST, Role.CCM_TFTP)
    return fake
