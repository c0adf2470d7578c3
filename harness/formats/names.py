"""How TLVs, names, serials, keys and text are written in Cisco signed files.

Two DN dialects meet in the field (docs/PROTOCOLS.md §0.3): CUCM writes `A=x;B=y`,
certutils writes RFC 4514 attributes in certificate order joined by `,`. We
write the certutils dialect (so our files are byte-identical to certutils) and
compare DNs only after normalising, never byte for byte. Serials are compared as
integers for the same reason: encoders disagree about leading zero bytes. The
splitter is hand-written because neither dialect is a complete RFC 4514 string
that `cryptography` could parse back.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.errors import UsageError
from harness.formats.errors import FormatError

Dn = tuple[tuple[str, str], ...]
_HEX = frozenset("0123456789abcdefABCDEF")


def dn_string(name: x509.Name) -> str:
    """certutils dialect: each attribute RFC 4514-escaped, certificate order, `,`-joined."""
    return ",".join(attribute.rfc4514_string() for attribute in name)


# Older CUCM and eToken certificates spell some attribute types differently.
_TYPE_ALIASES = {"S": "ST", "E": "EMAILADDRESS", "1.2.840.113549.1.9.1": "EMAILADDRESS"}


@lru_cache(maxsize=1024)
def normalise_dn(text: str) -> Dn:
    """((TYPE, value), ...) with types upper-cased, both sides trimmed, escapes undone.

    Splits on unescaped `,` or `;`. A piece without `=` is glued back onto the
    previous value, so a CUCM-dialect value that contains a comma still matches.
    """
    pairs: list[tuple[str, str]] = []
    for piece, separator in _split(text):
        kind, equals, value = piece.partition("=")
        if not equals and pairs:
            last_kind, last_value = pairs[-1]
            pairs[-1] = (last_kind, f"{last_value}{separator}{_unescape(piece)}".strip())
        elif equals or piece.strip():
            kind = kind.strip().upper()
            pairs.append((_TYPE_ALIASES.get(kind, kind), _unescape(value).strip()))
    return tuple(pairs)


def _split(text: str) -> list[tuple[str, str]]:
    """Pieces between unescaped separators, each with the separator before it."""
    pieces: list[tuple[str, str]] = []
    start, before, escaped = 0, "", False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",;":
            pieces.append((text[start:index], before))
            start, before = index + 1, char
    pieces.append((text[start:], before))
    return pieces


def _unescape(value: str) -> str:
    """Undo RFC 4514 `\\c` and `\\HH` escapes (hex pairs may form UTF-8 sequences)."""
    if "\\" not in value:
        return value
    out = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        pair = value[index + 1 : index + 3]
        if char == "\\" and len(pair) == 2 and set(pair) <= _HEX:
            out.append(int(pair, 16))
            index += 3
        elif char == "\\" and index + 1 < len(value):
            out += value[index + 1].encode("utf-8", "surrogatepass")
            index += 2
        else:
            out += char.encode("utf-8", "surrogatepass")
            index += 1
    return out.decode("utf-8", "replace")


def same_dn(left: str, right: str) -> bool:
    """True when two DN strings name the same entity in either dialect."""
    return normalise_dn(left) == normalise_dn(right)


def serial_bytes(serial: int) -> bytes:
    """Minimal unsigned big-endian bytes, no sign padding (certutils form); 0 -> 00."""
    if serial < 0:
        raise ValueError("serial numbers are unsigned")
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def serial_int(value: bytes) -> int:
    """Integer value of serial bytes in any form (leading zeros allowed)."""
    return int.from_bytes(value, "big")


def zstring(text: str) -> bytes:
    """Text as written in a TLV: UTF-8 bytes plus one terminating 0x00."""
    return text.encode("utf-8") + b"\x00"


def read_zstring(value: bytes) -> str:
    """Text up to the first 0x00 (terminator optional); invalid UTF-8 is replaced."""
    return value.split(b"\x00", 1)[0].decode("utf-8", "replace")


def tlv(tag: int, value: bytes) -> bytes:
    """One TLV: tag byte, u16 length, value (containers are TLVs of their children)."""
    if len(value) > 0xFFFF:
        raise UsageError(f"value of tag {tag} is {len(value)} bytes; the limit is 65535")
    return bytes((tag, len(value) >> 8, len(value) & 0xFF)) + value


def public_key_bytes(key: PublicKeyTypes) -> bytes | None:
    """Record tag 7: RSA as DER RSAPublicKey (PKCS#1), EC as X9.62 point; else None."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return None


def read_tlvs(
    data: bytes, off: int, end: int, fixed: Mapping[int, int], what: str, *,
    containers: frozenset[int] = frozenset(), pad: int | None = None,
) -> tuple[dict[int, bytes], dict[int, int]]:
    """Walk TLVs in `data[off:end]` as one flat stream (docs/PROTOCOLS.md §1.2, §2.2).

    Container tags are stepped into (their length is ignored), `pad` is a bare
    byte with no length, tags in `fixed` must have exactly that value length.
    Returns the values and the offsets of each tag's TLV (the last one wins).
    """
    values: dict[int, bytes] = {}
    offsets: dict[int, int] = {}
    while off < end:
        tag = data[off]
        if tag == pad:
            off += 1
            continue
        length = int.from_bytes(data[off + 1 : off + 3], "big")
        if off + 3 > end or (tag not in containers and off + 3 + length > end):
            raise FormatError(f"{what} tag {tag} runs past the {what} end ({end})", off)
        if tag in containers:
            off += 3
            continue
        if fixed.get(tag, length) != length:
            raise FormatError(f"{what} tag {tag} has length {length}, not {fixed[tag]}", off)
        values[tag], offsets[tag] = data[off + 3 : off + 3 + length], off
        off += 3 + length
    return values, offsets
