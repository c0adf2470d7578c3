"""Generate a twin topology in code: N phones on one rack, for the CLI and benchmarks."""

from __future__ import annotations

from lab_topology.schema import LabSpec

MODEL_MIX = ("7962", "8845", "7942", "8861", "7965")


def twin_lab(phones: int, *, models: tuple[str, ...] = MODEL_MIX, nodes: int = 1,
             name: str = "twin-generated") -> LabSpec:
    """One rack, `nodes` cluster nodes (127.0.1.N), `phones` phones on one switch."""
    if not 1 <= phones <= 60000:
        raise ValueError("phones must be between 1 and 60000")
    document = {
        "name": name,
        "backend": "twin",
        "racks": [{
            "name": "rack1",
            "cluster": {"nodes": [{"name": f"cucm{i}", "address": f"127.0.1.{i}"}
                                  for i in range(1, nodes + 1)]},
            "switches": [{"name": "sw1"}],
            "phones": [{"name": f"SEP{0xA0000000 + i:012X}", "model": models[i % len(models)],
                        "switch": "sw1", "port": f"Gi1/0/{i + 1}",
                        "address": f"127.{30 + i // 65000}.{(i % 65000) // 250}.{i % 250 + 1}"}
                       for i in range(phones)],
        }],
    }
    return LabSpec.model_validate(document)
