"""Synthetic firmware loads for the twin and for tests: the file set, never Cisco's bits.

A load under test is a folder holding `<load>.loads`, the images it lists and
the `term<NN>.default.loads` a blank phone asks for (docs/REAL_WIRE.md §5.1,
§5.2). Cisco's files cannot ship with phonelab, so this writes files of the same
shape: the signed-file header (version 1.2, SHA-1, RSA-2048) signed by the lab
firmware key, a `.loads` text listing five images, and tiny `.sbn` bodies that
start with the archive magic seen in real images.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError
from harness.firmware.names import image_names, term_names
from harness.firmware.signer import lab_firmware_signer
from harness.formats.header import Signer
from harness.formats.loads import IMAGE_MAGIC, build_firmware_file, loads_body

TIMESTAMP = 1_262_304_000  # 2010-01-01: fixed, so regenerating gives the same bytes


def example_files(model: str, load: str, *, signer: Signer | None = None) -> dict[str, bytes]:
    """Every file of a synthetic `load` for `model`, by name."""
    sign = signer or lab_firmware_signer()
    images = image_names(load)
    body = loads_body(load, images, release=load.partition(".")[2] or load)
    files = {name: build_firmware_file(body, sign, filename=name, timestamp=TIMESTAMP)
             for name in [f"{load}.loads", *term_names(model)]}
    for image in images:
        payload = IMAGE_MAGIC + b"\0" + f"phonelab synthetic image {image} of {load}\n".encode()
        files[image] = build_firmware_file(payload, sign, filename=image, timestamp=TIMESTAMP)
    return files


def write_example(directory: Path, model: str, load: str, *,
                  signer: Signer | None = None) -> list[Path]:
    """Write `example_files` into `directory` (created if needed); the paths written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror or exc}") from None
    written = []
    for name, data in example_files(model, load, signer=signer).items():
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written
