"""Lab topology files: schema, loader and the example labs shipped beside them."""

from lab_topology.loader import DEFAULT_LAB, load_lab, parse_lab, phone_address
from lab_topology.schema import LabSpec, PhoneSpec, RackSpec

__all__ = ["DEFAULT_LAB", "LabSpec", "PhoneSpec", "RackSpec", "load_lab", "parse_lab",
           "phone_address"]
