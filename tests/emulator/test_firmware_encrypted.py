"""Short and encrypted configs: the after-.sgn bullets of docs/PROTOCOLS.md §7.4 (and §4.4)."""

from __future__ import annotations

from firmware_lab import CONFIG, Pki, config_xml, itl, phone, signed
from firmware_net import FakeTvs, give_config, give_itl

from harness.formats.enc import encrypt_config, stub_config
from harness.pki.identity import Identity
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.firmware_config import DECRYPT_FAILED, PUBLIC_KEY_MISMATCH
from phone_drivers.emulator.firmware_types import Outcome

ENC = f"{CONFIG}.enc.sgn"
FULL = config_xml(capf_mode=0, marker="secret")


def _phone(pki: Pki, *, lsc: bool = True, **options: bool) -> Firmware:
    fw = phone(mic=pki.mic, **options)
    assert give_itl(fw, itl(pki.tftp, tftp=pki.tftp, tvs=[pki.tvs], capf=pki.capf)).ok
    assert give_config(fw, signed(config_xml(marker="v1"), pki.tftp)).ok
    if lsc:
        fw.install_lsc(pki.lsc.cert, pki.lsc.key)
    return fw


def _stub(pki: Pki, device: Identity) -> bytes:
    return signed(stub_config(FULL, device.cert), pki.tftp)


def _enc(pki: Pki, device: Identity, signer: Identity | None = None) -> bytes:
    return encrypt_config(FULL, device.cert, signer or pki.tftp, filename=ENC, timestamp=1)


def test_stub_with_encr_config_asks_for_the_enc_sgn(pki: Pki) -> None:
    fw = _phone(pki)
    decision = give_config(fw, _stub(pki, pki.lsc))
    assert decision.outcome is Outcome.DEFERRED and decision.fetch_next == ENC
    assert b"v1" in (fw.state.last_config or b"")  # the stub is not a config


def test_encrypted_config_is_decrypted_with_the_lsc_named_by_cert_hash(pki: Pki) -> None:
    fw = _phone(pki)
    assert give_config(fw, _stub(pki, pki.lsc)).ok
    decision = give_config(fw, _enc(pki, pki.lsc), name=ENC)
    assert decision.outcome is Outcome.ACCEPTED and fw.state.last_config == FULL


def test_encrypted_config_is_decrypted_with_the_mic_named_by_cert_hash(pki: Pki) -> None:
    fw = _phone(pki)
    assert give_config(fw, _stub(pki, pki.mic)).ok
    assert give_config(fw, _enc(pki, pki.mic), name=ENC).outcome is Outcome.ACCEPTED


def test_wrong_cert_hash_triggers_capf_public_key_mismatch(pki: Pki) -> None:
    """The stub already names a key the phone lacks: no point fetching the .enc.sgn."""
    fw = _phone(pki)
    decision = give_config(fw, _stub(pki, pki.stranger))
    assert decision.outcome is Outcome.REJECTED and decision.capf_needed == PUBLIC_KEY_MISMATCH
    assert decision.fetch_next is None and not decision.try_next
    assert b"v1" in (fw.state.last_config or b"") and fw.state.capf_needed == PUBLIC_KEY_MISMATCH
    action = fw.capf_action()
    assert action.connect and action.auth == "null"
    assert [s.address for s in action.servers] == ["capf.lab"]


def test_empty_cert_hash_triggers_public_key_mismatch(pki: Pki) -> None:
    fw = _phone(pki)
    stub = stub_config(FULL, pki.lsc.cert)
    start, end = stub.index(b"<certHash>") + 10, stub.index(b"</certHash>")
    decision = give_config(fw, signed(stub[:start] + stub[end:], pki.tftp))
    assert decision.capf_needed == PUBLIC_KEY_MISMATCH


def test_undecryptable_config_triggers_capf_decrypt_file_failed(pki: Pki) -> None:
    """certHash names the LSC, but the file was wrapped for the MIC."""
    fw = _phone(pki)
    assert give_config(fw, _stub(pki, pki.lsc)).ok
    decision = give_config(fw, _enc(pki, pki.mic), name=ENC)
    assert decision.outcome is Outcome.REJECTED and decision.capf_needed == DECRYPT_FAILED
    assert b"v1" in (fw.state.last_config or b"")


def test_encrypted_config_signature_is_verified_like_a_sgn(pki: Pki) -> None:
    fw = _phone(pki)
    assert give_config(fw, _stub(pki, pki.lsc)).ok
    decision = give_config(fw, _enc(pki, pki.lsc, pki.stranger), FakeTvs(pki.tvs), name=ENC)
    assert decision.outcome is Outcome.REJECTED and decision.capf_needed is None
    assert "signature" in decision.reason


def test_enc_first_phone_decrypts_without_a_stub(pki: Pki) -> None:
    fw = _phone(pki, enc_first=True)
    assert fw.config_requests().names[0] == ENC
    assert give_config(fw, _enc(pki, pki.mic), name=ENC).outcome is Outcome.ACCEPTED


def test_lsc_from_capf_lets_the_next_config_phase_decrypt(pki: Pki) -> None:
    fw = _phone(pki, lsc=False)
    assert give_config(fw, _stub(pki, pki.lsc)).capf_needed == PUBLIC_KEY_MISMATCH
    decision = fw.install_lsc(pki.lsc.cert, pki.lsc.key)
    assert fw.state.capf_result == "installed" and fw.state.capf_needed is None
    assert "config phase runs again" in decision.reason
    assert give_config(fw, _stub(pki, pki.lsc)).ok
    assert give_config(fw, _enc(pki, pki.lsc), name=ENC).outcome is Outcome.ACCEPTED
    assert not fw.state.config_rejected
