"""What a TFTP request asks for, whether it may have it, and where the bytes come from.

The Cluster publishes its file set (CTL, ITL, signed configs) through a `MappingSource`
swapped in one step, so a phone never sees half a publish; a bench serves a
`DirectorySource`; `ChainSource` stacks them. Parsing and the name policy are here,
not left to tftpy, which answers traversal with error 4, serves absolute paths under
its root and dies on names it cannot decode. A source refuses a name by raising
`PermissionError` (`NameDenied` is one: TFTP error 2) and returns None for "absent".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from harness.errors import UsageError
from harness.formats.errors import FormatError
from harness.services.private_keys import kind_of_private_key

MAX_NAME_BYTES = 255
MAX_BLKSIZE = 65464  # RFC 2348: the largest block that still fits one UDP datagram
MIN_BLKSIZE = 8
RRQ, WRQ = 1, 2
_MODES = (b"octet", b"netascii")  # netascii is served as binary, as tftpy does


class NameDenied(PermissionError):
    """A requested name refused on sight; the endpoint answers TFTP error 2."""


class FileSource(Protocol):
    def lookup(self, name: str) -> bytes | None:
        """Bytes of a normalised `name`, None if absent; PermissionError to refuse it."""


def parse_request(packet: bytes) -> tuple[int, str, dict[str, str]]:
    """(opcode, raw name, lower-cased options) of an RRQ/WRQ; FormatError if malformed.

    The name runs up to the first field that is a mode, so a NUL smuggled into a
    name ('ITLFile.tlv\\0../x') is seen whole and denied rather than misparsed.
    """
    opcode = int.from_bytes(packet[:2], "big")
    if len(packet) < 4 or opcode not in (RRQ, WRQ):
        raise FormatError(f"not a request: opcode {opcode}, {len(packet)} bytes", 0)
    fields = packet[2:].split(b"\0")
    if fields.pop() != b"":
        raise FormatError("request not NUL-terminated", len(packet))
    mode = next((i for i in range(1, len(fields)) if fields[i].lower() in _MODES), None)
    if mode is None:
        raise FormatError("request without an octet/netascii mode", 2)
    opts = [field.decode("latin-1") for field in fields[mode + 1:]]
    options = {key.lower(): value for key, value in zip(opts[0::2], opts[1::2], strict=False)}
    return opcode, b"\0".join(fields[:mode]).decode("latin-1"), options


def supported_options(asked: dict[str, str]) -> dict[str, str]:
    """blksize (8..65464, larger clamped, smaller ignored) and tsize; others are dropped."""
    kept = {"tsize": "0"} if "tsize" in asked else {}  # the transfer fills in the size
    with contextlib.suppress(KeyError, ValueError):  # absent or not a number: 512 blocks
        size = int(asked["blksize"])
        if size >= MIN_BLKSIZE:  # below 8 is invalid (RFC 2348): ignored, 512 it is
            kept["blksize"] = str(min(size, MAX_BLKSIZE))  # too large: the most that fits
    return kept


def printable(raw: str) -> str:
    """A requested name as safe one-line text for events (control bytes escaped)."""
    return "".join(ch if " " <= ch < "\x7f" else f"\\x{ord(ch):02x}" for ch in raw)


def normalise_name(raw: str) -> str:
    """The name relative to the served tree, or `NameDenied` saying why not.

    One leading '/' is dropped because phones ask for '/mk-sip.jar' meaning the
    TFTP root. TFTP names are netascii (RFC 1350), so non-ASCII is refused too,
    as are '.' and empty components: every component must name something.
    """
    if len(raw.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise NameDenied(f"name longer than {MAX_NAME_BYTES} bytes")
    name = raw[1:] if raw.startswith("/") else raw
    if not name:
        raise NameDenied("empty name")
    if not all(" " <= ch < "\x7f" for ch in name):
        raise NameDenied("control character (NUL, CR, LF...) or non-ASCII in name")
    if "\\" in name:
        raise NameDenied("backslash in name")
    if name.startswith("/"):
        raise NameDenied("absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise NameDenied("parent-directory component '..'")
    if any(part in ("", ".") for part in parts):
        raise NameDenied("empty or '.' path component")
    return name


def fetch(files: FileSource, raw: str) -> tuple[str, bytes | None]:
    """The whole serving policy: (normalised name, bytes or None); PermissionError if refused.

    Every endpoint that serves the file set (TFTP now, HTTP 6970 later) goes through
    here, so a key published by mistake is refused whatever the source.
    """
    name = normalise_name(raw)
    refuse_private(name)
    data = files.lookup(name)
    if data is not None:
        refuse_private(name, data)
    return name, data


def refuse_private(name: str, data: bytes | None = None) -> None:
    """Raise `NameDenied` for a private key: by name (*.key, under private/) or PEM content.

    Content is checked whatever the extension, since a key pasted into a .crt or a
    combined cert+key .pem leaks just the same; DER, PKCS#8 and PKCS#12 keys are
    recognised by content too (`private_keys`).
    """
    parts = name.lower().split("/")
    if parts[-1].endswith(".key"):
        raise NameDenied("private key file (*.key)")
    if "private" in parts[:-1]:
        raise NameDenied("file under a 'private' directory")
    if data is not None and (kind := kind_of_private_key(data)) is not None:
        raise NameDenied(f"file contains a private key ({kind})")


class DirectorySource:
    """Files under `root`, read at each request so edits show at once; read-only.

    Names go through `normalise_name`; symlinks are followed only while they stay
    inside `root` and out of private/ directories; files holding PEM keys are refused.
    """

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise UsageError(f"TFTP root {root} is not a directory")
        self.root = root.resolve()

    def lookup(self, name: str) -> bytes | None:
        path = self.root / normalise_name(name)  # NameDenied is raised, not swallowed below
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # absent, dangling link, link loop
            return None
        if not real.is_relative_to(self.root):
            raise NameDenied("resolves outside the TFTP root")
        refuse_private(real.relative_to(self.root).as_posix())  # a link into private/
        if not real.is_file():
            return None
        data = real.read_bytes()  # unreadable: PermissionError, i.e. denied
        refuse_private(name, data)
        return data


class MappingSource:
    """In-memory files; `replace` swaps the whole set at once under a lock.

    Names are normalised and keys refused when published, so a Cluster bug that
    publishes a key fails loudly there rather than as a silent TFTP denial.
    """

    def __init__(self, files: Mapping[str, bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._files = self._checked(files or {})

    @staticmethod
    def _checked(files: Mapping[str, bytes]) -> dict[str, bytes]:
        checked: dict[str, bytes] = {}
        for raw, data in files.items():
            try:
                name = normalise_name(raw)
                refuse_private(name, data)
            except NameDenied as exc:
                raise ValueError(f"cannot publish {raw!r} over TFTP: {exc}") from None
            checked[name] = bytes(data)
        return checked

    def replace(self, files: Mapping[str, bytes]) -> None:
        """Publish a new file set; the next request sees all of it, never a mix."""
        checked = self._checked(files)
        with self._lock:
            self._files = checked

    def update(self, files: Mapping[str, bytes]) -> None:
        """Replace some files and keep the rest, atomically (one phone's config, a CTL)."""
        checked = self._checked(files)
        with self._lock:
            self._files = self._files | checked

    def lookup(self, name: str) -> bytes | None:
        with self._lock:
            return self._files.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._files)


class ChainSource:
    """Several sources in order: the first that has the name wins; a refusal is final."""

    def __init__(self, *sources: FileSource) -> None:
        self.sources = sources

    def lookup(self, name: str) -> bytes | None:
        found = (source.lookup(name) for source in self.sources)  # lazily: stop at a hit
        return next((data for data in found if data is not None), None)
