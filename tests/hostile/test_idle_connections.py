"""Finding 4: idle SIP TCP connections up to and past the cap must not take the process's
descriptors from TFTP, TVS, HTTPS and CAPF, nor keep a phone from registering.

All endpoints run in this process on one loop, as in `phonelab serve`; the attacker
holds its connections from a child process, so /proc/self/fd counts the server only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.pki import CertRole, LabPKI
from harness.services.capf import CapfEndpoint
from harness.services.capf_directory import CapfDirectory
from harness.services.https import HttpsServicesEndpoint
from harness.services.registrar import Registrar
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import MappingSource
from harness.services.truststore import TrustStore
from harness.services.tvs import TvsEndpoint
from tests.hostile.attack_support import (
    PHONE_TIMEOUT,
    Attacker,
    capf_enroll,
    fd_count,
    https_get,
    rss_mb,
    sip_register,
    tftp_get,
    timed,
    tvs_verify,
)

CAP = 200
ATTACK = 3 * CAP  # up to and well past the cap
ITL = b"itl" * 400
FDS_PER_CONNECTION = 2


def test_idle_sip_tcp_connections_past_the_cap_leave_every_service_up(
        pki: LabPKI, loop: BackgroundLoop, events: EventLog,
        figures: Callable[..., None]) -> None:
    tvs_id, tomcat = pki.identity(CertRole.tvs, "cucm1"), pki.identity(CertRole.tomcat, "cucm1")
    capf_id = pki.identity(CertRole.capf, "cucm1")
    store = TrustStore()
    store.add(tomcat.cert, [7], ttl=3600)
    directory = CapfDirectory()
    phones = [f"SEP0011223344{i:02X}" for i in range(3)]
    for phone in phones:
        directory.add(phone, "install", "no password", key_size=1024)
    registrar = Registrar(events, loop, max_connections=CAP)
    endpoints = [TftpEndpoint(MappingSource({"ITLFile.tlv": ITL}), events),
                 TvsEndpoint(events, loop, tvs_id, store, node="cucm1"),
                 HttpsServicesEndpoint(tomcat, events, loop=loop),
                 CapfEndpoint(events, loop, capf_id, directory), registrar]
    for endpoint in endpoints:
        endpoint.start()
    tftp, tvs, https, capf = (e.address for e in endpoints[:4])
    try:
        fds_before, rss_before = fd_count(), rss_mb()
        attackers = [Attacker(registrar.address, CAP // 2) for _ in range(ATTACK // (CAP // 2))]
        try:
            time.sleep(0.3)  # accepted, and the evicted ones closed
            fds_during = fd_count()
            results = [timed(
                tftp=lambda: tftp_get(tftp, "ITLFile.tlv", ITL),
                tvs=lambda: tvs_verify(tvs, tvs_id, tomcat.der),
                https=lambda: https_get(https),
                capf=lambda p=phone: capf_enroll(capf, p, capf_id),  # type: ignore[misc]
                register=lambda p=phone: sip_register(registrar.address, p),  # type: ignore[misc]
            ) for phone in phones]
            fds_peak, rss_after = fd_count(), rss_mb()
        finally:
            for attacker in attackers:
                attacker.close()
    finally:
        for endpoint in reversed(endpoints):
            endpoint.stop()
    worst = max(r.worst() for r in results)
    figures("finding 4", idle_sip_tcp=ATTACK, cap=CAP, fds_before=fds_before,
            fds_during=fds_during, fds_peak=fds_peak, rss_growth_mb=rss_after - rss_before,
            **{f"{k}_max_s": max(r.seconds[k] for r in results) for k in results[0].seconds})
    assert worst < PHONE_TIMEOUT / 2, [r.line() for r in results]
    pipes = 2 * len(attackers)  # our ends of the attackers' stdin and stdout
    # at most 2 descriptors per connection the cap admits: the socket, and the duplicate
    # the fault-injection hook holds while a connection lives (services/impaired_path.py)
    bound = FDS_PER_CONNECTION * CAP + pipes + 10
    assert fds_during - fds_before <= bound, (fds_before, fds_during, bound)
    assert fds_peak - fds_before <= bound, (fds_before, fds_peak, bound)
    assert registrar.tcp_cap.evicted >= ATTACK - CAP
    assert rss_after - rss_before < 40
