"""Firmware load descriptors (`<load>.loads`) and images (`.sbn`): docs/REAL_WIRE.md §5.2.

Both start with the signed-file header of docs/PROTOCOLS.md §1 (version 1.2, SHA-1,
RSA-2048). A `.loads` body is CRLF text: `#` comment lines, a blank line, then
one image file name per line (some with a trailing space). The phone fetches
every listed image over TFTP, so names are checked here like TFTP names: a
name that climbs directories or carries control bytes is a `FormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.formats.digest import Digest
from harness.formats.errors import FormatError
from harness.formats.header import Header, Signer, build_signed, parse_header

FIRMWARE_VERSION = (1, 2)  # tag 1 of Cisco's .loads/.sbn files
IMAGE_MAGIC = b"CNU_File_Archive_3.0"
MAX_IMAGES = 64


@dataclass(frozen=True)
class LoadsFile:
    """A parsed `.loads`: its signed header and the images it names, in order."""

    header: Header
    images: tuple[str, ...]
    comments: tuple[str, ...]


def loads_body(load: str, images: list[str], *, release: str = "") -> bytes:
    """The text body of `<load>.loads` listing `images`, CRLF line ends."""
    lines = [f"# {load}: phonelab synthetic load descriptor (not Cisco firmware)",
             f"# RELEASE load version {release or load}", "#HARDWARE_COMP_1 5", "", *images]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def build_firmware_file(body: bytes, signer: Signer, *, filename: str,
                        timestamp: int | None = None) -> bytes:
    """`body` behind a version 1.2, SHA-1 signed-file header naming `filename`."""
    return build_signed(body, signer, version=FIRMWARE_VERSION, filename=filename,
                        digest=Digest.SHA1, timestamp=timestamp)


def parse_loads(data: bytes) -> LoadsFile:
    """Header and image list of a `.loads` file; FormatError when malformed."""
    header = parse_header(data)
    try:
        text = data[header.header_length:].decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("load descriptor body is not ASCII text", header.header_length) from None
    comments, images = [], []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            comments.append(line)
        elif line:
            images.append(_image_name(line, header.header_length))
    if not images:
        raise FormatError("load descriptor lists no images", header.header_length)
    if len(images) > MAX_IMAGES:
        raise FormatError(f"load descriptor lists {len(images)} images (limit {MAX_IMAGES})",
                          header.header_length)
    return LoadsFile(header, tuple(images), tuple(comments))


def _image_name(name: str, offset: int) -> str:
    if len(name) > 128 or not all(" " < ch < "\x7f" for ch in name):
        raise FormatError(f"image name {name[:40]!r} is not a plain file name", offset)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise FormatError(f"image name {name!r} names a path, not a file", offset)
    return name
