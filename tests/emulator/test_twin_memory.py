"""What a twin keeps for a long storm is kept once: shared certificate bytes, deflated configs."""

from __future__ import annotations

from firmware_lab import config_xml, phone

from phone_drivers.emulator.twin_memory import SHARED_BYTES, shared_bytes, shared_count


def test_certificates_many_twins_see_are_held_once() -> None:
    """A storm's twins all see the same TVS certificate: they keep one copy of its bytes."""
    der = bytes(range(256)) * 3
    copies = [bytes(bytearray(der)) for _ in range(3)]
    assert copies[0] is not copies[1]
    shared = [shared_bytes(c) for c in copies]
    assert shared[0] is shared[1] is shared[2] and shared[0] == der
    for n in range(SHARED_BYTES + 10):  # bounded, and sharing goes on past the bound
        value = f"filler {n}".encode()
        assert shared_bytes(value) == value and shared_count() <= SHARED_BYTES
    late = [bytes(bytearray(b"late value")) for _ in range(2)]
    assert shared_bytes(late[0]) is late[0] and shared_bytes(late[1]) is late[0]


def test_accepted_configs_are_kept_deflated_against_a_shared_sample() -> None:
    """Each twin keeps its config (flash); alike configs cost a few hundred bytes each."""
    shared = b"".join(b"<setting%d>value %d</setting%d>" % (i, i, i) for i in range(200))
    configs = [config_xml(marker=f"phone {n}") + shared + b"<!-- %d -->" % n for n in range(5)]
    states = [phone("7962").state for _ in configs]
    for state, config in zip(states, configs, strict=True):
        assert state.last_config is None
        state.last_config = config
    assert [s.last_config for s in states] == configs
    assert states[1].packed_config is not None and states[2].packed_config is not None
    assert states[1].packed_config[0] is states[2].packed_config[0]  # one dictionary
    assert all(len(s.packed_config[1]) * 4 < len(c)
               for s, c in zip(states[1:], configs[1:], strict=True) if s.packed_config)
    states[0].last_config = None
    assert states[0].last_config is None and states[0].packed_config is None
