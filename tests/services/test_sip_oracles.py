"""Parties we did not write register with the registrar: SIPp (UDP, TCP; TLS when the
installed build has it) and baresip over TLS with a client certificate."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.aio import BackgroundLoop
from harness.events import EventLog
from harness.services.registrar import Registrar
from harness.services.sip_binding import Admission, TlsSettings
from tests.services.sip_support import SipPki, directory_policy, make_pki, pem_files

SCENARIOS = Path(__file__).parent / "sipp"
SIPP = shutil.which("sipp")
BARESIP = shutil.which("baresip")
BOUND = 20  # seconds any tool may run


@pytest.fixture(scope="module")
def pki() -> SipPki:
    return make_pki()


@pytest.fixture
def registrar(loop: BackgroundLoop, events: EventLog, pki: SipPki) -> Iterator[Registrar]:
    tls = TlsSettings(identity=lambda: pki.callmanager,
                      client_cas=lambda: [pki.capf.cert, pki.mfg.cert], source="sip-tls@cucm1")
    server = Registrar(events, loop, policy=directory_policy(True),  # type: ignore[arg-type]
                       source="sip@cucm1", tls=tls)
    server.start()
    yield server
    server.stop()


def sipp_has_tls() -> bool:
    if SIPP is None:
        return False
    banner = subprocess.run([SIPP, "-v"], capture_output=True, text=True, timeout=BOUND,
                            stdin=subprocess.DEVNULL, check=False).stdout
    return "TLS" in banner


def run_sipp(scenario: str, port: int, transport: str, tmp_path: Path,
             *extra: str) -> subprocess.CompletedProcess[str]:
    assert SIPP is not None
    return subprocess.run(
        [SIPP, f"127.0.0.1:{port}", "-sf", str(SCENARIOS / scenario), "-m", "1",
         "-t", transport, "-i", "127.0.0.1", "-p", "0", "-timeout", "10s", "-timeout_error",
         "-nostdin", *extra],
        capture_output=True, text=True, timeout=BOUND, cwd=tmp_path, check=False)


@pytest.mark.skipif(SIPP is None, reason="sipp (sip-tester) is not installed")
@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_sipp_registers_and_is_refused_a_foreign_dn(
        registrar: Registrar, events: EventLog, transport: str, tmp_path: Path) -> None:
    ok = run_sipp("register_ok.xml", registrar.address[1], transport, tmp_path)
    assert ok.returncode == 0, ok.stdout[-2000:]
    [event] = events.of_kind("sip.register")
    assert event.phone == "SEP001122334455" and event.data["dn"] == "5678"
    refused = run_sipp("register_forbidden.xml", registrar.address[1], transport, tmp_path)
    assert refused.returncode == 0, refused.stdout[-2000:]
    assert events.of_kind("sip.register_rejected")[0].data["status"] == 403


@pytest.mark.skipif(SIPP is None, reason="sipp (sip-tester) is not installed")
def test_sipp_fails_when_the_registrar_refuses(loop: BackgroundLoop, events: EventLog,
                                               tmp_path: Path) -> None:
    """The oracle itself can fail: a registrar that refuses everything fails register_ok."""
    server = Registrar(events, loop, policy=lambda d, dn: Admission(403, "no"))
    server.start()
    try:
        result = run_sipp("register_ok.xml", server.address[1], "u1", tmp_path)
    finally:
        server.stop()
    assert result.returncode != 0


@pytest.mark.skipif(not sipp_has_tls(), reason="this sipp build has no TLS (no -t l1)")
def test_sipp_registers_over_tls_with_a_client_certificate(
        registrar: Registrar, events: EventLog, pki: SipPki, tmp_path: Path) -> None:
    cert, key = pem_files(pki.lsc, str(tmp_path), "lsc")
    result = run_sipp("register_ok.xml", registrar.tls_port, "l1", tmp_path,
                      "-tls_cert", cert, "-tls_key", key)
    assert result.returncode == 0, result.stdout[-2000:]
    assert events.of_kind("sip.register")[0].data["transport"] == "tls"


def baresip_config(directory: Path, pki: SipPki, tls_port: int, dn: str) -> None:
    """A headless baresip: no audio, loopback only, the LSC as its TLS certificate, and
    the phone's MAC as the last group of its instance UUID (its `+sip.instance`)."""
    cert, key = pem_files(pki.lsc, str(directory), "lsc")
    (directory / "client.pem").write_text(Path(cert).read_text() + Path(key).read_text())
    (directory / "config").write_text(
        "sip_listen 127.0.0.1:0\n"
        f"sip_certificate {directory / 'client.pem'}\n"
        "sip_trans_def tls\n"
        "module_path /usr/lib/baresip/modules\n"
        "module uuid.so\nmodule account.so\n"
        "audio_player none\naudio_source none\naudio_alert none\n")
    (directory / "uuid").write_text("00000000-0000-0000-0000-001122334455")  # no newline
    (directory / "accounts").write_text(
        f"<sip:{dn}@127.0.0.1;transport=tls>;sipnat=outbound;"
        f'outbound="sip:127.0.0.1:{tls_port};transport=tls";regint=3600\n')


@pytest.mark.skipif(BARESIP is None, reason="baresip (baresip-core) is not installed")
@pytest.mark.parametrize(("dn", "kind"), [("5678", "sip.register"),
                                          ("9999", "sip.register_rejected")])
def test_baresip_registers_over_tls_with_its_certificate(
        registrar: Registrar, events: EventLog, pki: SipPki, tmp_path: Path,
        dn: str, kind: str) -> None:
    """baresip carries no Cisco devicename; its `+sip.instance` (uuid file) names the
    device by MAC, the way CUCM names pre-9.0 firmware (docs/REAL_WIRE.md §1.6)."""
    assert BARESIP is not None
    baresip_config(tmp_path, pki, registrar.tls_port, dn)
    process = subprocess.Popen([BARESIP, "-f", str(tmp_path), "-t", "5"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 8
        while not events.of_kind(kind) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.terminate()
        output = process.communicate(timeout=BOUND)[0]
    [event] = events.of_kind(kind)
    assert event.phone == "SEP001122334455", output[-2000:]
    assert event.data["transport"] == "tls" and event.source == "sip-tls@cucm1"
    assert event.data["dn"] == dn
