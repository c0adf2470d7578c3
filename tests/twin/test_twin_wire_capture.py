"""tshark's own dissectors read every twin phone's registration from one captured boot.

Independent oracle for the whole rack at once: SIP phones' REGISTERs (sip dissector)
and the SCCP phone's Register (skinny dissector) are captured on loopback while every
phone boots after a reset, and each phone's identity and load must be readable from
the decoded packets, with no packet flagged malformed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cluster.state import Service
from phone_drivers.capture import CaptureUnavailable, PacketCapture
from phone_drivers.capture_endpoints import Endpoint
from phone_drivers.capture_endpoints import Service as CaptureService
from phone_drivers.emulator.twin import TwinRack
from tests.twin.test_twin_boot import P7942, ready

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _decode(pcap: str, protocol: str, ports: list[int], filter_: str,
            fields: list[str]) -> list[list[str]]:
    decode = [x for port in ports for x in ("-d", f"tcp.port=={port},{protocol}")]
    out = subprocess.run(["tshark", "-r", pcap, *decode, "-Y", filter_, "-T", "fields",
                          *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_every_phones_registration_is_decoded_by_tshark(rack: TwinRack, tmp_path: Path) -> None:
    for name in rack.phones:
        ready(rack, name)
    rack.cluster.update_phone(P7942, encrypted_config=False)  # SCCP in the clear, not TLS
    sip = [e for e in rack.cluster.plane.of(Service.SIP) if e.running]
    sccp = [e for e in rack.cluster.plane.of(Service.SCCP) if e.running]
    capture = PacketCapture([Endpoint(CaptureService.SIP, *e.address) for e in sip]
                            + [Endpoint(CaptureService.SCCP, *e.address) for e in sccp],
                            pcap_path=tmp_path / "boot.pcap")
    try:
        capture.start()
    except CaptureUnavailable as exc:
        pytest.skip(exc.reason)
    mark = rack.events.mark()
    try:
        rack.cluster.reset_phones(action="reset")
        for name in rack.phones:
            ready(rack, name, after=mark)
    finally:
        pcap = str(capture.stop().pcap)
    registers = _decode(pcap, "sip", [e.address[1] for e in sip], "sip.Method == \"REGISTER\"",
                        ["sip.Contact", "sip.User-Agent", "_ws.malformed"])
    skinny = _decode(pcap, "skinny", [e.address[1] for e in sccp],
                     "skinny.messageId == 0x0001",
                     ["skinny.DeviceName", "skinny.firmwareLoadName", "_ws.malformed"])
    assert registers and skinny
    assert not any(row[-1] for row in registers + skinny), "malformed packets"
    for name, phone in rack.phones.items():
        if phone.protocol == "SCCP":
            assert [name, phone.software_version] in [row[:2] for row in skinny], skinny
            continue
        mac = name[3:].lower()
        mine = [row for row in registers if name in row[0] or mac in row[0].lower()]
        assert mine, f"no REGISTER of {name} decoded: {registers}"
        model = phone.model_info.model
        assert any(f"Cisco-CP{model}" in row[1] for row in mine), mine
