"""An SCCP phone of the twin rack registers over SCCP (TLS here: encrypted config, mode 3)
and obeys the call manager's Reset; it never speaks SIP."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness.cluster.state import Service
from phone_drivers.capture import CaptureUnavailable, PacketCapture
from phone_drivers.capture_endpoints import Endpoint
from phone_drivers.capture_endpoints import Service as CaptureService
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
    alarm = rack.events.wait_for(lambda e: e.kind == "sccp.alarm" and e.phone == P7942
                                 and "restart" in e.data["text"], 15, after=mark)
    assert alarm.data["text"].endswith("Last=reset-restart") and alarm.data["severity"] == 2
    assert f"Name={P7942} Load={rack.phones[P7942].software_version}" in alarm.data["text"]
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


def test_tshark_decodes_the_twin_sccp_registration(rack: TwinRack, tmp_path: Path) -> None:
    """Oracle: Wireshark's skinny dissector reads our Register, RegisterAck and keepalives."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    ready(rack, P7942)
    rack.cluster.update_phone(P7942, encrypted_config=False)  # security mode 1: plain TCP
    endpoints = [e for e in rack.cluster.plane.of(Service.SCCP) if e.running]
    capture = PacketCapture([Endpoint(CaptureService.SCCP, *e.address) for e in endpoints],
                            pcap_path=tmp_path / "sccp.pcap")
    try:
        capture.start()
    except CaptureUnavailable as exc:
        pytest.skip(exc.reason)
    mark = rack.events.mark()
    try:
        rack.cluster.reset_phones(action="reset")
        event = rack.events.wait_for(lambda e: e.kind == "sccp.register" and e.phone == P7942,
                                     15, after=mark)
        assert event.data["transport"] == "tcp"
        time.sleep(1.5)  # a couple of keepalives (fast profile: 30 s × 0.02)
    finally:
        pcap = capture.stop().pcap
    decode = [f"-d tcp.port=={e.address[1]},skinny".split(" ", 1) for e in endpoints]
    fields = ["skinny.messageId", "skinny.DeviceName", "skinny.deviceType",
              "skinny.protocolVer", "skinny.firmwareLoadName", "_ws.malformed"]
    out = subprocess.run(
        ["tshark", "-r", str(pcap), *[x for pair in decode for x in pair], "-Y", "skinny",
         "-T", "fields", *[x for f in fields for x in ("-e", f)]],
        capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    ids = {int(i, 0) for row in rows for i in row[0].split(",") if i}
    assert {0x0001, 0x0081, 0x009B, 0x0010, 0x000E, 0x0097, 0x0020, 0x0000, 0x0100} <= ids, out
    load = rack.phones[P7942].software_version
    registers = [row[1:5] for row in rows if row[1]]
    assert [[r[0], int(r[1], 0), int(r[2]), r[3]] for r in registers] == [[P7942, 434, 17, load]]
    assert not any(row[5] for row in rows), out
