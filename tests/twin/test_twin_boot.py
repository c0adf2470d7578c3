"""End to end on loopback: twin phones boot against the real cluster endpoints."""

from __future__ import annotations

import serial

from harness.events import Event
from phone_drivers.emulator.twin import TwinRack

P7962, P8845, P7942, P7960 = (f"SEP00000A00000{i}" for i in range(1, 5))


def ready(rack: TwinRack, phone: str, after: int = 0, timeout: float = 15) -> Event:
    return rack.events.wait_for(lambda e: e.kind == "phone.ready" and e.phone == phone,
                                timeout, after=after, what=f"{phone} ready")


def test_phone_trusts_first_itl_verifies_config_and_https_and_registers(rack: TwinRack) -> None:
    ready(rack, P7962)
    kinds = [(e.kind, e.data.get("outcome")) for e in rack.events.for_phone(P7962)]
    assert ("phone.itl", "accepted") in kinds
    assert ("phone.config", "accepted") in kinds
    https = [e for e in rack.events.for_phone(P7962) if e.kind == "phone.https"]
    assert https and https[-1].data["trusted"] is True
    assert any(e.kind == "tvs.verify" and e.data["status"] == "valid"
               for e in rack.events.for_phone(P7962))
    state = rack.phones[P7962].observe()
    assert state["registered"] and state["itl_digest"] and not state["stranded"]


def test_model_without_sbd_takes_the_unsigned_config(rack: TwinRack) -> None:
    ready(rack, P7960)
    files = [e.data["file"] for e in rack.events.for_phone(P7960) if e.kind == "tftp.rrq"]
    assert files == [f"{P7960}.cnf.xml"]
    assert rack.phones[P7960].observe()["itl_digest"] is None


def enc_accepted(rack: TwinRack, after: int) -> Event:
    return rack.events.wait_for(lambda e: e.kind == "phone.config" and e.phone == P7942
                                and (e.data["name"] or "").endswith(".enc.sgn")
                                and e.data["outcome"] == "accepted", 15, after=after)


def test_encrypted_phone_enrolls_with_capf_then_decrypts(rack: TwinRack) -> None:
    """Null-string CAPF install: automatic enrollment, then the .enc.sgn decrypts."""
    enc_accepted(rack, 0)
    ready(rack, P7942)
    assert rack.phones[P7942].observe()["lsc_serial"]
    sessions = [e for e in rack.events.of_kind("capf.session") if e.phone == P7942]
    assert sessions and sessions[0].data["operation"] == "install"


def test_password_mode_waits_for_the_string_typed_on_the_phone(rack: TwinRack) -> None:
    ready(rack, P7942)
    first_lsc = rack.phones[P7942].observe()["lsc_serial"]
    record = rack.cluster.state.phones[P7942]
    record.capf_operation, record.capf_auth, record.capf_password = "install", "password", "1234"
    rack.cluster.sync_capf()
    rack.cluster.restart_service("tftp")
    mark = rack.events.mark()
    rack.phones[P7942].reset()
    rack.events.wait_for(lambda e: e.kind == "phone.capf" and e.phone == P7942
                         and e.data["outcome"] == "waiting", 15, after=mark)
    phone = rack.phones[P7942]
    assert phone.console_path is not None
    with serial.serial_for_url(phone.console_path, timeout=1) as console:
        console.write(b"capf auth 1234\r\n")  # typed on the keypad, via the console path
        session = rack.events.wait_for(lambda e: e.kind == "capf.session" and e.phone == P7942,
                                       15, after=mark)
        assert session.data["auth"] == "password" and session.data["operation"] == "install"
        enc_accepted(rack, session.seq)
    assert phone.observe()["lsc_serial"] not in (None, first_lsc)
