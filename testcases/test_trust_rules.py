"""Trust rules the phones enforce on their own (docs/PROTOCOLS.md §7.3-§7.9).

Each scenario makes the cluster serve one file or present one certificate that a
documented rule must refuse, and judges the phone only by what it shows: its console,
its TFTP requests, TVS and CAPF sessions, HTTPS fetches, registration. Files are
forged with the cluster's own keys (`lab.cluster.pki`), so they verify or fail exactly
where the rule under test says, on the twin and on a rack alike.
"""

from __future__ import annotations

from pathlib import Path

import allure
import pytest

from fixtures.expect import locked_out, served_itl, settle, stranded, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from fixtures.waits import wait_for
from harness.cluster.state import Param, Service
from harness.events import Event
from harness.formats.enc import cert_hash, parse_encrypted
from harness.formats.header import build_signed
from harness.formats.names import tlv, zstring
from harness.formats.sgn import parse_signed, sign_file
from harness.formats.trustlist import Record, Role, build_trust_list
from harness.pki import CertRole, LabPKI
from harness.pki.identity import Identity

pytestmark = [pytest.mark.destructive, allure.feature("Trust rules on the phone")]

PUBLIC_KEY_MISMATCH = "public key mismatch"
DECRYPT_FAILED = "decrypt file failed"


def encrypted_phone(lab: LabRun) -> str:
    return next(n for n, p in lab.cluster.state.phones.items() if p.encrypted_config)


def tftp_nodes(lab: LabRun) -> list[str]:
    return [n.name for n in lab.cluster.state.nodes_running(Service.TFTP)]


def served(lab: LabRun, name: str, node: str) -> bytes:
    data = lab.cluster.served(name, node)
    assert data is not None, f"the cluster serves no {name} on {node}"
    return data


def encrypted_config_verdict(lab: LabRun, phone: str, failure: str, *, after: int) -> str:
    """The phone's console verdict on its encrypted config: the line saying `failure`, or
    the reason it applied or refused the .enc.sgn otherwise. Waiting for any verdict, not
    for `failure` alone, means a phone that decides otherwise fails the test at once, not
    at the bound (the refusal line comes just before the `failure` line it explains)."""
    full = f"{phone}.cnf.xml.enc.sgn"
    verdicts = (failure, f"{full} authenticated successfully", f"invalid file {full}")

    def verdict(event: Event) -> bool:
        line = str(event.data.get("line", ""))
        return event.kind == "console.line" and event.phone == phone and any(
            v in line for v in verdicts)

    found = wait_for(lab.events, verdict, lab.bounds.registration, after=after,
                     what=f"a verdict on {full} on {phone}'s console",
                     explain=lab.explain, phone=phone)
    line = str(found.data.get("line", ""))
    if verdicts[2] in line:  # refused: for the expected reason, said on the next line?
        line = str(lab.wait_console(phone, failure, after=found.seq, bound=5).data["line"])
    return line


def place_signed(lab: LabRun, name: str, body: bytes, signer: Identity | None = None) -> None:
    """`body` signed as `name` on every TFTP server: by `signer`, else by that node's TFTP
    key (the key the cluster itself signs with)."""
    for node in tftp_nodes(lab):
        key = signer or lab.cluster.pki.identity(CertRole.tftp, node)
        lab.cluster.place_file(name, sign_file(body, key, filename=name), node)


def into_mixed_mode(lab: LabRun, phones: list[str]) -> None:
    """Mixed mode as the CTL client makes it: the phones install the CTL and keep
    trusting their ITL."""
    with step("Run the CTL client (mixed mode), restart TFTP, reset all phones"):
        lab.cluster.run_ctl_client()
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    trusting(lab, phones, after=mark, itl="unchanged")


# --- §7.4 / §7.8: a CTL outranks a rollback ITL --------------------------------------------
@allure.story("CTL and rollback ITL")
@allure.title("A phone holding a CTL still demands signed configs after the rollback ITL")
@allure.severity(allure.severity_level.CRITICAL)
def test_ctl_keeps_demanding_signed_configs_under_a_rollback_itl(lab: LabRun) -> None:
    """A rollback ITL makes a phone accept unsigned configs only while it holds no CTL
    (docs/PROTOCOLS.md §7.4, §7.8: "between secure clusters it does not work because only the ITL is
    blanked, not the CTL"). A mixed-mode phone with the rollback ITL whose signed config
    does not verify keeps its last config and never falls back to the plain one."""
    settle(lab)
    phones = lab.plain_phones()
    into_mixed_mode(lab, phones)
    with step("Set 'Prepare Cluster for Rollback to pre-8.0' = True; restart TVS and TFTP"):
        lab.cluster.set_parameter(Param.PREPARE_ROLLBACK, True)
        lab.cluster.restart_service("tvs")
        rebuilt = lab.events.mark()
        lab.cluster.restart_service("tftp")
        lab.wait_tftp_rebuilt(after=rebuilt)
    with step("Reset all phones: they install the rollback ITL, vouched for by the CTL"):
        mark = lab.reset_all()
    settle(lab, phones, after=mark)
    assert served_itl(lab).is_rollback
    for name in phones:
        outcome = lab.outcome(name, mark)
        assert "accepted" in outcome.itl_verdicts(), outcome.summary()
        assert (f"{name}.cnf.xml.sgn", "accepted") in outcome.configs, outcome.summary()
    with step("A signed config that does not verify lies on the TFTP servers; reset"):
        for name in phones:
            signed = bytearray(served(lab, f"{name}.cnf.xml.sgn", tftp_nodes(lab)[0]))
            signed[-2] ^= 0x01  # one bit of the body: the signature no longer verifies
            lab.cluster.place_file(f"{name}.cnf.xml.sgn", bytes(signed))
        mark = lab.reset_all()
    settle(lab, phones, after=mark)
    for name in phones:
        outcome = lab.outcome(name, mark)
        assert (f"{name}.cnf.xml.sgn", "rejected") in outcome.configs, outcome.summary()
        assert (f"{name}.cnf.xml", "accepted") not in outcome.configs, (
            f"{name} took an unsigned config while holding a CTL: {outcome.summary()}")
        assert outcome.requested(".cnf.xml") == 0, (
            f"{name} asked for the unsigned config: {outcome.summary()}")
        assert outcome.registered, f"{name} keeps registering with its last config"


# --- §7.4: the encrypted config's certHash and digest ---------------------------------------
@allure.story("Encrypted configuration")
@allure.title("A short config naming another certificate: public key mismatch, then CAPF")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.requires_feature("encrypted_config")
def test_stub_naming_another_certificate_is_a_public_key_mismatch(lab: LabRun) -> None:
    """The short config's certHash selects which of the phone's keys opens the .enc.sgn
    (docs/PROTOCOLS.md §7.4). When it names neither the LSC nor the MIC the phone shows "public key
    mismatch" and asks CAPF, without trying its keys on the encrypted file."""
    name = encrypted_phone(lab)
    settle(lab, [name])
    stub = f"{name}.cnf.xml.sgn"
    body = parse_signed(served(lab, stub, tftp_nodes(lab)[0])).body
    own = lab.cluster.device_certificates()[name]
    other = lab.cluster.pki.identity(CertRole.capf, tftp_nodes(lab)[0]).cert
    assert cert_hash(own).encode() in body, "the short config names the phone's certificate"
    with step(f"Serve {name} a short config whose certHash names another certificate"):
        place_signed(lab, stub, body.replace(cert_hash(own).encode(),
                                             cert_hash(other).encode()))
    with step("Reset all phones"):
        mark = lab.reset_all()
    line = encrypted_config_verdict(lab, name, PUBLIC_KEY_MISMATCH, after=mark)
    assert PUBLIC_KEY_MISMATCH in line, f"{name} opened a config addressed to another key: {line}"
    session = lab.wait_event(name, "capf.session", after=mark)  # (console lines trail events)
    early = [e for e in lab.events.for_phone(name, since=mark)
             if e.kind == "tftp.rrq" and str(e.data.get("file")).endswith(".enc.sgn")
             and e.seq < session.seq]
    assert not early, f"{name} fetched the encrypted config the stub does not address: {early}"
    assert DECRYPT_FAILED not in " ".join(
        str(e.data.get("line", "")) for e in lab.events.for_phone(name, since=mark)
        if e.kind == "console.line")


def digest_broken(data: bytes, signer: Identity) -> bytes:
    """The .enc.sgn re-signed by `signer` with its first ciphertext byte flipped: the key
    still unwraps and the blocks still decrypt, but the plaintext digest no longer matches.
    (Not the last byte: the last block may be all padding, which the digest leaves out.)
    The encryption block is copied verbatim from the header (docs/PROTOCOLS.md §4.3)."""
    parsed = parse_encrypted(data)
    header, enc = parsed.header, parsed.header.enc
    assert enc is not None
    stamp = tlv(15, (header.timestamp or 0).to_bytes(4, "big"))
    start = data.index(tlv(14, zstring(header.filename)) + stamp) + len(
        tlv(14, zstring(header.filename)) + stamp)
    end = data.index(tlv(27, enc.digest), start) + len(tlv(27, enc.digest))
    body = bytearray(parsed.body)
    body[0] ^= 0x01
    return build_signed(bytes(body), signer, version=header.version, filename=header.filename,
                        digest=header.digest, timestamp=header.timestamp,
                        extra=data[start:end])


@allure.story("Encrypted configuration")
@allure.title("An encrypted config whose plaintext digest fails: decrypt file failed, then CAPF")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.requires_feature("encrypted_config")
def test_encrypted_config_with_a_wrong_digest_fails_to_decrypt(lab: LabRun) -> None:
    """A correctly signed .enc.sgn whose decrypted body does not match its digest is not
    used: the phone shows "decrypt file failed", asks CAPF and keeps its last config."""
    name = encrypted_phone(lab)
    settle(lab, [name])
    full = f"{name}.cnf.xml.enc.sgn"
    with step(f"Serve {name} an encrypted config whose plaintext digest does not match"):
        for node in tftp_nodes(lab):
            signer = lab.cluster.pki.identity(CertRole.tftp, node)
            lab.cluster.place_file(full, digest_broken(served(lab, full, node), signer), node)
    with step("Reset all phones"):
        mark = lab.reset_all()
    line = encrypted_config_verdict(lab, name, DECRYPT_FAILED, after=mark)
    assert DECRYPT_FAILED in line, f"{name} applied a config whose digest is wrong: {line}"
    lab.wait_event(name, "capf.session", after=mark)  # console lines trail endpoint events
    settle(lab, [name], after=mark)
    outcome = lab.outcome(name, mark)
    assert (full, "accepted") not in outcome.configs, outcome.summary()
    assert outcome.registered, f"{name} keeps registering with its last config"


# --- §7.3 / §7.5: TVS answers are matched against the role asked for -----------------------
@allure.story("TVS roles")
@allure.title("A config signed by a key TVS knows only as a web server is rejected")
@allure.severity(allure.severity_level.CRITICAL)
def test_config_signed_by_a_key_tvs_knows_under_another_role_is_rejected(lab: LabRun) -> None:
    """TVS vouches for the Tomcat certificate with role APP-SERVER. A config signed with
    that key makes the phone ask TVS, which says "valid", but not with role TFTP or
    CCM+TFTP (docs/PROTOCOLS.md §3.3): the phone rejects the config and keeps its last one."""
    settle(lab)
    phones = lab.plain_phones()
    tomcat = lab.cluster.pki.identity(CertRole.tomcat, tftp_nodes(lab)[0])
    with step("Serve each phone a config signed with the Tomcat (web server) key; reset"):
        for name in phones:
            body = parse_signed(served(lab, f"{name}.cnf.xml.sgn", tftp_nodes(lab)[0])).body
            place_signed(lab, f"{name}.cnf.xml.sgn", body, signer=tomcat)
        mark = lab.reset_all()
    settle(lab, phones, after=mark)
    for name in phones:
        outcome = lab.outcome(name, mark)
        assert ("query", "valid") in outcome.tvs, f"{name} should ask TVS: {outcome.summary()}"
        assert (f"{name}.cnf.xml.sgn", "rejected") in outcome.configs, outcome.summary()
        assert "accepted" not in outcome.config_verdicts(), outcome.summary()
        assert outcome.registered, f"{name} keeps registering with its last config"


# --- §7.6: TVS must not vouch for what it does not know -------------------------------------
@allure.story("TVS verification of HTTPS servers")
@allure.title("Phone services on a server TVS does not know fail until its certificate returns")
@allure.severity(allure.severity_level.CRITICAL)
def test_https_server_unknown_to_tvs_is_not_trusted(lab: LabRun, tmp_path: Path) -> None:
    """The services server presents a certificate in no trust store: TVS answers
    "invalid" to the phone's VERIFY and the phone fetches nothing (docs/PROTOCOLS.md
    §7.6). Restarting the service with the cluster's own certificate brings services
    back."""
    settle(lab)
    phones = lab.plain_phones()
    foreign = LabPKI.init(tmp_path / "foreign", ["web1"], key_size=2048)
    with step("The phone-services web server presents a certificate no trust store holds"):
        lab.cluster.present_certificate("https", foreign.identity(CertRole.tomcat, "web1"))
    with step("Reset all phones"):
        mark = lab.reset_all()
    settle(lab, phones, after=mark)
    for name in phones:
        lab.wait_event(name, "tvs.verify", after=mark)
        outcome = lab.outcome(name, mark)
        assert ("verify", "invalid") in outcome.tvs, outcome.summary()
        assert ("verify", "valid") not in outcome.tvs, outcome.summary()
        assert not outcome.https_ok, f"{name} trusted an unknown server: {outcome.summary()}"
        assert outcome.registered, outcome.summary()
    with step("Restart the web server with the cluster's certificate; reset all phones"):
        lab.cluster.restart_service("https")
        mark = lab.reset_all()
    trusting(lab, phones, after=mark, itl="unchanged")


# --- §7.9: stranded is the phone's own verdict ----------------------------------------------
@allure.story("Stranded or only locked out")
@allure.title("TVS down during a TFTP regeneration locks phones out without stranding them")
@allure.severity(allure.severity_level.CRITICAL)
def test_tvs_outage_locks_phones_out_but_does_not_strand_them(lab: LabRun) -> None:
    """With only the TFTP certificate regenerated but TVS unreachable, phones reject the
    new ITL as stranded phones do, yet they do not report being stranded: their ITL's TVS
    record still matches the TVS certificate. Starting TVS again and resetting recovers
    them without touching a phone (docs/PROTOCOLS.md §7.5, §7.9)."""
    settle(lab)
    phones = lab.plain_phones()
    with step("Regenerate the TFTP certificate; stop TVS on every node; restart TFTP"):
        lab.cluster.regenerate_certificate("tftp")
        for node in lab.cluster.state.nodes_running(Service.TVS):
            lab.cluster.stop_service("tvs", node.name)
        lab.cluster.restart_service("tftp")
    with step("Reset all phones"):
        mark = lab.reset_all()
    locked_out(lab, phones, after=mark)
    with step("Start TVS again; restart TFTP (configs name TVS again); reset all phones"):
        lab.cluster.restart_service("tvs")
        rebuilt = lab.events.mark()
        lab.cluster.restart_service("tftp")
        lab.wait_tftp_rebuilt(after=rebuilt)
        mark = lab.reset_all()
    trusting(lab, phones, after=mark)


@allure.story("Stranded or only locked out")
@allure.title("Regenerating TFTP and TVS together: each phone reports itself stranded")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.requires_feature("stranded_report")
def test_phones_report_themselves_stranded_after_the_ordering_hazard(lab: LabRun) -> None:
    """The ordering hazard seen from the phone: the ITL rejected, and the phone saying
    that the TVS certificate is not in its ITL, so no ITL signer can be verified
    (docs/PROTOCOLS.md §7.9); bringing the old TVS certificate back is not possible, so
    only erasing helps."""
    settle(lab)
    with step("Regenerate the TFTP and the TVS certificates; restart TFTP; reset"):
        lab.cluster.regenerate_certificate("tftp")
        lab.cluster.regenerate_certificate("tvs")
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    found = stranded(lab, lab.plain_phones(), after=mark)
    for name, outcome in found.items():
        assert ("query", "valid") not in outcome.tvs, f"{name}: TVS cannot have answered"


# --- §7.3: the first CTL of a phone that holds an ITL ---------------------------------------
def place_ctl(lab: LabRun, role: CertRole) -> None:
    """A CTLFile.tlv on every TFTP server signed by that node's `role` key, listing it as
    SAST and the node's TFTP certificate as CCM+TFTP (a tokenless CTL when `role` is tftp)."""
    for node in tftp_nodes(lab):
        signer = lab.cluster.pki.identity(role, node)
        tftp = lab.cluster.pki.identity(CertRole.tftp, node).cert
        records = [Record.from_certificate(signer.cert, Role.SAST),
                   Record.from_certificate(tftp, Role.CCM_TFTP)]
        ctl = build_trust_list(records, signer, filename="CTLFile.tlv")
        lab.cluster.place_file("CTLFile.tlv", ctl, node)


@allure.story("First CTL")
@allure.title("A CTL signed by the TFTP key the ITL lists is accepted without TVS")
@allure.severity(allure.severity_level.NORMAL)
def test_ctl_signed_by_the_itl_tftp_key_needs_no_tvs(lab: LabRun) -> None:
    """A tokenless CTL is signed with the CallManager (TFTP) key, which the phone's ITL
    already lists as SAST and CCM+TFTP: the phone installs it from the ITL alone, so it
    works with every TVS down (docs/PROTOCOLS.md §7.3, "no CTL, ITL installed")."""
    settle(lab)
    phones = lab.plain_phones()
    with step("Stop TVS on every node; place a CTL signed with the TFTP key; reset"):
        for node in lab.cluster.state.nodes_running(Service.TVS):
            lab.cluster.stop_service("tvs", node.name)
        place_ctl(lab, CertRole.tftp)
        mark = lab.reset_all()
    settle(lab, phones, after=mark)
    for name in phones:
        outcome = lab.outcome(name, mark)
        assert outcome.ctl_verdicts() == ["accepted"], outcome.summary()
        assert not outcome.tvs, f"{name} needed no TVS: {outcome.summary()}"


@allure.story("First CTL")
@allure.title("A CTL signed by the key the ITL lists only as CAPF is rejected")
@allure.severity(allure.severity_level.NORMAL)
def test_ctl_signed_by_the_capf_key_is_rejected(lab: LabRun) -> None:
    """The ITL lists the CAPF certificate with role CAPF, and TVS vouches for it only as
    CAPF: neither makes it a CTL signer (SAST), so the phone rejects the CTL and keeps
    trusting with its ITL (docs/PROTOCOLS.md §7.3)."""
    settle(lab)
    phones = lab.plain_phones()
    with step("Place a CTL signed with the CAPF key; reset all phones"):
        place_ctl(lab, CertRole.capf)
        mark = lab.reset_all()
    found = trusting(lab, phones, after=mark, itl="unchanged")
    for name, outcome in found.items():
        assert outcome.ctl_verdicts() == ["rejected"], outcome.summary()
        assert ("query", "valid") in outcome.tvs, f"{name} should ask TVS: {outcome.summary()}"


@allure.story("CTL update")
@allure.title("A mixed-mode phone rejects a new CTL signed by the key its CTL lists as CAPF")
@allure.severity(allure.severity_level.NORMAL)
def test_new_ctl_signed_by_a_non_sast_ctl_record_is_rejected(lab: LabRun) -> None:
    """Only a SAST record of the installed CTL vouches for a new CTL's signer
    (docs/PROTOCOLS.md §7.3, "CTL C installed"): the CAPF certificate in the CTL does
    not, nor does TVS, which knows it only as CAPF. The phone keeps its CTL."""
    settle(lab)
    phones = lab.plain_phones()
    into_mixed_mode(lab, phones)
    with step("Place a CTL signed with the CAPF key; reset all phones"):
        place_ctl(lab, CertRole.capf)
        mark = lab.reset_all()
    found = trusting(lab, phones, after=mark, itl="unchanged")
    for outcome in found.values():
        assert outcome.ctl_verdicts() == ["rejected"], outcome.summary()
