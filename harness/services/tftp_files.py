"""What a TFTP request asks for, whether it may have it, and where the bytes come from.

The Cluster publishes its file set (CTL, ITL, signed configs) through a `MappingSource`
swapped in one step, so a phone never sees half a publish; a bench serves a
`DirectorySource`; `ChainSource` stacks them. Parsing and the name policy are here,
not left to tftpy, which answers traversal with error 4, serves absolute paths under
its root and dies on names it cannot decode. A source refuses a name by raising
`PermissionError` (`NameDenied` is one: TFTP error 2) and returns None for "absent".

Files are streamed, not read whole per request (issue 11, finding 2: 100 requests
for a 20 MiB firmware load once held 2 GB). `open(name)` gives the transfer a
`Body`: bytes for small files, else a `FileBody` that reads each block with
`os.pread` when it is sent. A `DirectorySource` shares one `FileBody` (one
descriptor, its private-key verdict) per file version among all transfers, keyed
by device, inode, size and mtime, so a changed or replaced file is opened afresh
while transfers of the old one finish on theirs. pread rather than mmap: a file
truncated under a mapping raises SIGBUS and kills the server; pread just reads short.
`lookup(name)` keeps returning whole bytes for callers that want them (the Cluster).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from harness.errors import UsageError
from harness.formats.errors import FormatError
from harness.services.deflated_files import DeflatedFiles
from harness.services.private_keys import kind_of_private_key

MAX_NAME_BYTES = 255
MAX_BLKSIZE = 65464  # RFC 2348: the largest block that still fits one UDP datagram
MIN_BLKSIZE = 8
RRQ, WRQ = 1, 2
_MODES = (b"octet", b"netascii")  # netascii is served as binary, as tftpy does


SMALL_FILE = 64 * 1024  # read whole (configs, trust lists); larger ones are streamed
OPEN_FILES = 32  # file versions a DirectorySource keeps open for sharing
_SCAN_CHUNK = 1 << 20
_KEY_MARKS = (b"PRIVATE KEY-----", b"PuTTY-User-Key-File-")  # as private_keys looks for


class NameDenied(PermissionError):
    """A requested name refused on sight; the endpoint answers TFTP error 2."""


class Body(Protocol):
    """What a transfer sends from: a length and byte slices (bytes qualifies)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice, /) -> bytes: ...


class FileSource(Protocol):
    def lookup(self, name: str) -> bytes | None:
        """Bytes of a normalised `name`, None if absent; PermissionError to refuse it."""


def open_body(files: FileSource, name: str) -> Body | None:
    """The source's streamed body for `name` when it can stream (`open`), else its bytes."""
    opener = getattr(files, "open", None)
    if opener is not None:
        body: Body | None = opener(name)
        return body
    return files.lookup(name)


class FileBody:
    """A file read block by block with `os.pread`; `len()` is its size when opened.

    Shared by every transfer of that file version; the descriptor closes when the
    last holder lets go. A file that shrinks meanwhile reads short, never crashes.
    """

    __slots__ = ("_fd", "key_kind", "size")

    def __init__(self, fd: int, size: int) -> None:
        self._fd, self.size = fd, size
        self.key_kind = _text_key_in(fd, size)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: slice, /) -> bytes:
        start, stop, _ = index.indices(self.size)
        return os.pread(self._fd, stop - start, start) if stop > start else b""

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _text_key_in(fd: int, size: int) -> str | None:
    """Scan a large file for PEM/OpenSSH key armour, 1 MiB at a time (bounded memory);
    DER and PKCS#12 keys are small files, checked whole by `refuse_private`."""
    overlap = max(len(mark) for mark in _KEY_MARKS) - 1
    offset, tail = 0, b""
    while offset < size:
        chunk = os.pread(fd, _SCAN_CHUNK, offset)
        if not chunk:
            break
        window = tail + chunk
        if any(mark in window for mark in _KEY_MARKS):
            return "PEM/OpenSSH private key"
        tail, offset = window[-overlap:], offset + len(chunk)
    return None


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


def fetch(files: FileSource, raw: str) -> tuple[str, Body | None]:
    """The whole serving policy: (normalised name, body or None); PermissionError if refused.

    Every endpoint that serves the file set (TFTP now, HTTP 6970 later) goes through
    here, so a key published by mistake is refused whatever the source.
    """
    name = normalise_name(raw)
    refuse_private(name)
    data = open_body(files, name)
    if data is not None:
        refuse_private(name, data)
    return name, data


def refuse_private(name: str, data: Body | None = None) -> None:
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
    if isinstance(data, FileBody):
        kind = data.key_kind  # scanned once per file version
    elif data is not None:
        kind = kind_of_private_key(data if isinstance(data, bytes) else data[0:len(data)])
    else:
        kind = None
    if kind is not None:
        raise NameDenied(f"file contains a private key ({kind})")


class DirectorySource:
    """Files under `root`, looked up at each request so edits show at once; read-only.

    Names go through `normalise_name`; symlinks are followed only while they stay
    inside `root` and out of private/ directories; files holding keys are refused.
    Large files are streamed (`open`, module docstring).
    """

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise UsageError(f"TFTP root {root} is not a directory")
        self.root = root.resolve()
        self._lock = threading.Lock()
        self._open: OrderedDict[Path, tuple[tuple[int, int, int, int], FileBody]] = \
            OrderedDict()

    def lookup(self, name: str) -> bytes | None:
        body = self.open(name)
        return body if body is None or isinstance(body, bytes) else body[0:len(body)]

    def open(self, name: str) -> Body | None:
        """The file's body: bytes when small, else the shared `FileBody` of its version."""
        path = self.root / normalise_name(name)  # NameDenied is raised, not swallowed below
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # absent, dangling link, link loop
            return None
        if not real.is_relative_to(self.root):
            raise NameDenied("resolves outside the TFTP root")
        refuse_private(real.relative_to(self.root).as_posix())  # a link into private/
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            return None  # unreadable instead: PermissionError, i.e. denied
        body = self._body(real, fd)
        refuse_private(name, body)
        return body

    def _body(self, real: Path, fd: int) -> Body | None:
        """Bytes of a small file, else the cached `FileBody` of this version (takes `fd`)."""
        keep = False
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            if info.st_size <= SMALL_FILE:
                return os.pread(fd, SMALL_FILE + 1, 0)
            version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            with self._lock:
                cached = self._open.get(real)
                if cached is not None and cached[0] == version:
                    self._open.move_to_end(real)
                    return cached[1]
            body, keep = FileBody(fd, info.st_size), True
            with self._lock:
                self._open[real] = (version, body)
                self._open.move_to_end(real)
                while len(self._open) > OPEN_FILES:  # transfers under way keep theirs
                    self._open.popitem(last=False)
            return body
        finally:
            if not keep:
                os.close(fd)


class MappingSource:
    """In-memory files; `replace` swaps the whole set at once under a lock.

    Names are normalised and keys refused when published, so a Cluster bug that
    publishes a key fails loudly there rather than as a silent TFTP denial. Small
    files are kept deflated (`DeflatedFiles`: a cluster's configs are ~20 times
    smaller so) and inflated per request; large ones are served as published.
    """

    def __init__(self, files: Mapping[str, bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._files = DeflatedFiles(self._checked(files or {}))

    @staticmethod
    def _checked(files: Mapping[str, bytes] | Iterable[tuple[str, bytes]]
                 ) -> Iterator[tuple[str, bytes]]:
        for raw, data in files.items() if isinstance(files, Mapping) else files:
            try:
                name = normalise_name(raw)
                refuse_private(name, data)
            except NameDenied as exc:
                raise ValueError(f"cannot publish {raw!r} over TFTP: {exc}") from None
            yield name, bytes(data)

    def replace(self, files: Mapping[str, bytes] | Iterable[tuple[str, bytes]], *,
                dictionary: bytes | None = None) -> None:
        """Publish a new file set; the next request sees all of it, never a mix.

        `files` may be pairs made one at a time (a cluster's configs), kept deflated
        as they come with `dictionary` (`deflated_files.sample_dictionary` of a few);
        without one it is sampled from the whole set."""
        packed = DeflatedFiles(self._checked(files), dictionary=dictionary)
        with self._lock:
            self._files = packed

    def update(self, files: Mapping[str, bytes]) -> None:
        """Replace some files and keep the rest, atomically (one phone's config, a CTL)."""
        checked = dict(self._checked(files))
        with self._lock:
            self._files = self._files.with_files(checked)

    def lookup(self, name: str) -> bytes | None:
        with self._lock:
            files = self._files
        return files.get(name)  # inflated outside the lock: the set itself never changes

    def open(self, name: str) -> Body | None:
        """The file's bytes (inflated for this request when kept deflated)."""
        return self.lookup(name)

    def names(self) -> list[str]:
        with self._lock:
            return self._files.names()

    def stored_bytes(self) -> int:
        """Bytes the published files take in memory, as kept (mostly deflated)."""
        with self._lock:
            return self._files.stored_bytes()


class ChainSource:
    """Several sources in order: the first that has the name wins; a refusal is final."""

    def __init__(self, *sources: FileSource) -> None:
        self.sources = sources

    def lookup(self, name: str) -> bytes | None:
        found = (source.lookup(name) for source in self.sources)  # lazily: stop at a hit
        return next((data for data in found if data is not None), None)

    def open(self, name: str) -> Body | None:
        found = (open_body(source, name) for source in self.sources)
        return next((data for data in found if data is not None), None)
