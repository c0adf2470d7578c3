"""Topology for shared racks: `reservation`, `labgrid://` consoles, labgrid power ports."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import UsageError
from harness.leases import FileLease, lease_for
from harness.leases.labgrid_lease import LabgridLease
from lab_topology import parse_lab


def _lab(**rack: Any) -> dict[str, Any]:
    phone = {"name": "SEP00000A000001", "model": "7962", "switch": "sw1", "port": "Gi1/0/1",
             **rack.pop("phone", {})}
    return {"name": "lab", "backend": "hardware", "racks": [{
        "name": "rack1", "cluster": {"nodes": [{"name": "cucm1", "address": "127.0.0.1"}]},
        "switches": [{"name": "sw1"}], "phones": [phone], **rack}]}


def test_a_rack_with_a_reservation_is_a_labgrid_place_and_lg_coordinator_overrides(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_COORDINATOR", raising=False)
    lab = parse_lab(_lab(reservation={"coordinator": "lg.example:20408", "place": "bench-3",
                                      "priority": 5}))
    lease = lease_for(lab, lab.racks[0])
    assert isinstance(lease, LabgridLease)
    assert (lease.coordinator, lease.place, lease.prio) == ("lg.example:20408", "bench-3", 5)
    monkeypatch.setenv("LG_COORDINATOR", "127.0.0.1:9999")
    assert lease_for(lab, lab.racks[0]).where() == \
        "labgrid place bench-3 on coordinator 127.0.0.1:9999"


def test_without_a_reservation_a_rack_keeps_its_file_lease(tmp_path: Any) -> None:
    lab = parse_lab(_lab())
    assert isinstance(lease_for(lab, lab.racks[0], tmp_path), FileLease)


@pytest.mark.parametrize(("rack", "message"), [
    ({"phone": {"console": {"url": "labgrid://c1"}}},
     "names a resource of the rack's labgrid place, but the rack has no reservation"),
    ({"phone": {"power": {"resource": "pdu1"}}},
     "power names resource pdu1 of the rack's labgrid place, but the rack has no reservation"),
    ({"phone": {"power": {"model": "gude"}}}, "give either resource"),
    ({"phone": {"power": {"resource": "p", "model": "gude", "host": "h"}},
      "reservation": {"coordinator": "c:1", "place": "p"}}, "give one or the other"),
    ({"reservation": {"coordinator": "c:1"}}, "reservation.place: required key is missing"),
    ({"reservation": {"coordinator": "c:1", "place": "a b"}}, "reservation.place"),
    ({"reservation": {"coordinator": "c:1", "place": "p", "prio": 1}}, "unknown key"),
])
def test_mistakes_in_the_shared_rack_sections_are_one_line_each(rack: dict[str, Any],
                                                                 message: str) -> None:
    with pytest.raises(UsageError, match="racks\\[0\\]") as caught:
        parse_lab(_lab(**rack))
    assert message in str(caught.value)
