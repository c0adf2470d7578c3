"""Certificate procedures as phones experience them (docs/PROTOCOLS.md §7.9), end to end."""

from __future__ import annotations

import serial

from harness.events import Event
from phone_drivers.emulator.twin import TwinRack
from tests.twin.test_twin_boot import P7962, P8845, ready

SBD_PHONES = (P7962, P8845)


def all_ready(rack: TwinRack, after: int = 0) -> None:
    for phone in SBD_PHONES:
        ready(rack, phone, after=after)


def itl_event(rack: TwinRack, phone: str, after: int) -> Event:
    return rack.events.wait_for(lambda e: e.kind == "phone.itl" and e.phone == phone
                                and e.data["outcome"] != "not-found", 15, after=after)


def test_tftp_regeneration_restart_and_reset_accepts_new_itl_via_tvs(rack: TwinRack) -> None:
    all_ready(rack)
    old = rack.phones[P7962].observe()["itl_signer_serial"]
    rack.cluster.regenerate_certificate("tftp")
    rack.cluster.restart_service("tftp")
    mark = rack.events.mark()
    assert set(SBD_PHONES) <= set(rack.cluster.reset_phones())
    all_ready(rack, after=mark)
    event = itl_event(rack, P7962, mark)
    assert event.data["outcome"] == "accepted" and event.data["basis"].startswith("TVS")
    assert any(e.kind == "tvs.query" and e.phone == P7962 for e in rack.events.since(mark))
    state = rack.phones[P7962].observe()
    assert state["itl_signer_serial"] != old and not state["stranded"]
    assert not state["config_rejected"]


def test_tvs_regeneration_alone_is_learnt_from_the_same_key_itl(rack: TwinRack) -> None:
    all_ready(rack)
    rack.cluster.regenerate_certificate("tvs")
    rack.cluster.restart_service("tftp")
    mark = rack.events.mark()
    rack.cluster.reset_phones()
    all_ready(rack, after=mark)
    assert itl_event(rack, P7962, mark).data["outcome"] == "accepted"
    https = [e for e in rack.events.since(mark) if e.kind == "phone.https" and e.phone == P7962]
    assert https and https[-1].data["trusted"]


def test_tftp_and_tvs_regenerated_together_strand_phones_until_itl_erased(
    rack: TwinRack,
) -> None:
    all_ready(rack)
    rack.cluster.regenerate_certificate("tftp")
    rack.cluster.regenerate_certificate("tvs")
    rack.cluster.restart_service("tftp")
    mark = rack.events.mark()
    rack.cluster.reset_phones()
    for phone in SBD_PHONES:
        assert itl_event(rack, phone, mark).data["outcome"] == "rejected"
        rack.events.wait_for(lambda e, p=phone: e.kind == "phone.config" and e.phone == p
                             and e.data["outcome"] == "rejected", 15, after=mark)
    https = rack.events.wait_for(lambda e: e.kind == "phone.https" and e.phone == P7962,
                                 15, after=mark)
    assert not https.data["trusted"]  # HTTPS via TVS fails too
    state = rack.phones[P7962].observe()
    assert state["stranded"] and state["config_rejected"] and state["trust_list_update_failed"]
    assert state["registered"], "a stranded phone keeps registering with its old config"

    # the documented remedy: delete the ITL by hand on the phone, then reset it
    console_path = rack.phones[P7962].console_path
    assert console_path is not None
    with serial.serial_for_url(console_path, timeout=1) as console:
        console.write(b"erase itl\r\n")
        rack.events.wait_for(lambda e: e.kind == "phone.console_command"
                             and e.phone == P7962, 10, after=mark)
    recovered = rack.events.mark()
    rack.phones[P7962].reset()
    ready(rack, P7962, after=recovered)
    event = itl_event(rack, P7962, recovered)
    assert event.data["outcome"] == "accepted" and event.data["basis"] == "trust on first use"
    assert not rack.phones[P7962].observe()["stranded"]
    assert rack.phones[P8845].observe()["stranded"], "the untouched phone stays stranded"


def test_documented_order_does_not_strand(rack: TwinRack) -> None:
    all_ready(rack)
    for role in ("tftp", "tvs"):
        rack.cluster.regenerate_certificate(role)
        rack.cluster.restart_service("tftp")
        mark = rack.events.mark()
        rack.cluster.reset_phones()
        all_ready(rack, after=mark)
        assert itl_event(rack, P8845, mark).data["outcome"] == "accepted"
    assert not any(rack.phones[p].observe()["stranded"] for p in SBD_PHONES)
