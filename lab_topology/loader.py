"""Load a topology file into a `LabSpec`, turning every mistake into one clear message.

Messages name the file, the key path (``racks[0].phones[2].model``) and what to
do about it, because lab engineers edit these files by hand.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import UsageError
from harness.firmware.folder import check_folder
from lab_topology.schema import LabSpec, PhoneSpec, RackSpec

EXAMPLES = Path(__file__).parent
DEFAULT_LAB = EXAMPLES / "twin.yaml"
MAX_TOPOLOGY_BYTES = 4 * 1024 * 1024  # a 10,000-phone rack is about 1 MiB of YAML


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.startswith(("function-", "value_error")):
            text += f".{part}" if text else part
    return text or "(top level)"


def _explain(error: dict[str, Any]) -> str:
    kind, message = error["type"], error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown key (remove it or check its spelling)"
    if kind == "missing":
        return "required key is missing"
    if kind.startswith("ip_v4"):
        return f"{message} (write an IPv4 address such as 127.0.1.1)"
    return str(message)


def parse_lab(document: Any, source: str = "<topology>", base: Path | None = None) -> LabSpec:
    """Validate an already-parsed YAML document; firmware folders are relative to `base`."""
    try:
        lab = LabSpec.model_validate(document)
    except ValidationError as exc:
        lines = [f"{source}: {_path(e['loc'])}: {_explain(dict(e))}" for e in exc.errors()]
        raise UsageError("\n".join(lines)) from None
    return _with_firmware_folders(lab, source, base or Path.cwd())


def _with_firmware_folders(lab: LabSpec, source: str, base: Path) -> LabSpec:
    """Each `firmware[].directory` made absolute (relative to the topology file) and
    checked to hold `<load>.loads` (docs/REAL_WIRE.md §5.2)."""
    racks = []
    for r, rack in enumerate(lab.racks):
        loads = []
        for f, load in enumerate(rack.firmware):
            if load.directory is not None:
                where = f"{source}: racks[{r}].firmware[{f}].directory"
                folder = check_folder(base / Path(load.directory).expanduser(), load.load, where)
                load = load.model_copy(update={"directory": str(folder)})
            loads.append(load)
        cas = [str(_pem_file(base / Path(ca).expanduser(),
                             f"{source}: racks[{r}].cluster.mic_cas[{c}]"))
               for c, ca in enumerate(rack.cluster.mic_cas)]
        cluster = rack.cluster.model_copy(update={"mic_cas": cas})
        racks.append(rack.model_copy(update={"firmware": loads, "cluster": cluster}))
    return lab.model_copy(update={"racks": racks})


def _pem_file(path: Path, where: str) -> Path:
    """An existing file holding a PEM certificate (one clear UsageError otherwise)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in text:
        raise UsageError(f"{where}: {path} holds no PEM certificate") from None
    return path.resolve()


def load_lab(path: Path | str) -> LabSpec:
    """Read and validate a topology file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read topology {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_TOPOLOGY_BYTES:
        raise UsageError(f"{path}: {len(raw)} bytes is far too large for a topology file "
                         f"(limit {MAX_TOPOLOGY_BYTES}); is this the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a text file (binary byte at offset {exc.start}); a "
                         "topology is a YAML file such as lab_topology/twin.yaml") from None
    if "\x00" in text:
        raise UsageError(f"{path}: not a text file (NUL byte at offset {text.index(chr(0))}); "
                         "a topology is a YAML file such as lab_topology/twin.yaml")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise UsageError(f"{path}:{where}: not valid YAML ({problem})") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path}: a topology is a mapping with name, backend and racks")
    return parse_lab(document, str(path), path.parent)


def phone_address(lab: LabSpec, rack: RackSpec, phone: PhoneSpec) -> IPv4Address:
    """The twin phone's loopback address: given, or 127.(20+rack).2.(index+1)."""
    if phone.address is not None:
        return phone.address
    r = lab.racks.index(rack)
    i = rack.phones.index(phone)
    return IPv4Address(f"127.{20 + r}.2.{i + 1}")
