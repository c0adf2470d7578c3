"""The twin's firmware-load rules, pure (docs/REAL_WIRE.md §5.3): which load to fetch,
whether a `.loads` file and its images are acceptable, what the outcome is.

A real phone compares `loadInformation` with the load it runs; when they differ it
fetches `<load>.loads`, then every image listed, verifies each with a key built
into its firmware, writes flash and reboots into the new load. The choices for the
cases the evidence leaves open are ours, written down here so a hardware run can
contradict them:

* empty `loadInformation`: keep the running load (community practice, §5.3);
* `.loads` or an image missing: status "File not found <name>", keep the running
  load and register anyway; tried again on the next boot ([UNCERTAIN], §8 item 6);
* a file that does not verify (malformed header, wrong signer, header naming
  another file): "Load Auth Failed <name>", keep the running load (§5.3 [I]).

The built-in key is the lab firmware key (`harness.firmware.signer`); real Cisco
images would fail here, as lab-signed images fail on a real phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import rsa

from harness.firmware.signer import lab_firmware_key
from harness.formats.errors import FormatError
from harness.formats.header import parse_header, verify_signature
from harness.formats.loads import parse_loads

NOT_FOUND, AUTH_FAILED = "File not found", "Load Auth Failed"


class LoadOutcome(StrEnum):
    UPGRADED = "upgraded"  # every file verified: reboot into the new load
    NOT_FOUND = "not_found"  # .loads or an image missing: keep the running load
    AUTH_FAILED = "auth_failed"  # a file failed verification: keep the running load


class LoadRejected(Exception):
    """A firmware file the phone will not install; `reason` is its status text."""

    def __init__(self, file: str, reason: str, detail: str) -> None:
        super().__init__(f"{reason} <{file}>: {detail}")
        self.file, self.reason, self.detail = file, reason, detail


@dataclass(frozen=True)
class LoadResult:
    """What one load attempt came to, for the timeline (`phone.load`) and the console."""

    running: str
    wanted: str
    outcome: LoadOutcome
    file: str = ""  # the file that stopped it
    detail: str = ""

    @property
    def switched(self) -> bool:
        return self.outcome is LoadOutcome.UPGRADED


def wanted_load(running: str, load_information: str | None) -> str | None:
    """The load to fetch, or None to keep running `running` (same or empty)."""
    load = (load_information or "").strip()
    if not load or load == running:
        return None
    return load


def built_in_key() -> rsa.RSAPublicKey:
    return lab_firmware_key().public_key()


def _verified(name: str, data: bytes, key: rsa.RSAPublicKey) -> None:
    try:
        header = parse_header(data)
    except FormatError as exc:
        raise LoadRejected(name, AUTH_FAILED, f"malformed header: {exc}") from None
    if header.filename and header.filename != name:
        raise LoadRejected(name, AUTH_FAILED, f"header names {header.filename!r}")
    if not verify_signature(data, header, key):
        raise LoadRejected(name, AUTH_FAILED, "signature does not verify with the built-in key")


def check_loads(name: str, data: bytes, key: rsa.RSAPublicKey | None = None) -> tuple[str, ...]:
    """The images a verified `.loads` lists; LoadRejected when it does not verify or parse."""
    _verified(name, data, key or built_in_key())
    try:
        return parse_loads(data).images
    except FormatError as exc:
        raise LoadRejected(name, AUTH_FAILED, f"bad load descriptor: {exc}") from None


def check_image(name: str, data: bytes, key: rsa.RSAPublicKey | None = None) -> None:
    """LoadRejected unless the image's signed-file header verifies."""
    _verified(name, data, key or built_in_key())
