"""An SCCP phone of the twin rack registers over SCCP (TLS here: encrypted config, mode 3)
and obeys the call manager's Reset; it never speaks SIP."""

from __future__ import annotations

from phone_drivers.emulator.twin import TwinRack
from tests.twin.test_twin_boot import P7942, P7962, ready


def test_sccp_phone_registers_over_sccp_tls_never_sip(rack: TwinRack) -> None:
    ready(rack, P7942)
    [event] = [e for e in rack.events.of_kind("sccp.register") if e.phone == P7942]
    phone = rack.phones[P7942]
    assert event.data["transport"] == "tls" and event.source.startswith("sccp-tls@")
    assert event.data["device_type"] == 434 and event.data["protocol"] == 17
    assert event.data["load"] == phone.software_version
    assert not [e for e in rack.events.of_kind("sip.register") if e.phone == P7942]
    assert phone.observe()["registered"]


def test_reset_and_restart_reach_the_sccp_phone(rack: TwinRack) -> None:
    ready(rack, P7942)
    ready(rack, P7962)
    mark = rack.events.mark()
    assert {P7942, P7962} <= set(rack.cluster.reset_phones(action="restart"))
    boot = rack.events.wait_for(lambda e: e.kind == "phone.boot" and e.phone == P7942, 10,
                                after=mark)
    assert boot.data["kind"] == "restart"
    resets = [e for e in rack.events.since(mark) if e.kind == "sccp.reset"]
    assert [e.data["type"] for e in resets if e.phone == P7942] == [2]
    ready(rack, P7942, after=mark)
    mark = rack.events.mark()
    rack.cluster.reset_phones(action="reset")
    boot = rack.events.wait_for(lambda e: e.kind == "phone.boot" and e.phone == P7942, 10,
                                after=mark)
    assert boot.data["kind"] == "reset"
    rack.events.wait_for(lambda e: e.kind == "sccp.register" and e.phone == P7942, 15,
                         after=mark)


def test_sccp_phone_comes_back_after_a_callmanager_restart(rack: TwinRack) -> None:
    ready(rack, P7942)
    node = next(e for e in rack.events.of_kind("sccp.register") if e.phone == P7942)
    mark = rack.events.mark()
    rack.cluster.restart_service("sccp", str(node.data["node"]))
    again = rack.events.wait_for(lambda e: e.kind == "sccp.register" and e.phone == P7942, 15,
                                 after=mark)
    assert again.data["transport"] == "tls"
    assert any(e.kind == "phone.sccp_lost" and e.phone == P7942 for e in rack.events.since(mark))
