"""Encrypted, authenticated backups of the signing identities (DRS stand-in).

docs/SECURITY_BY_DEFAULT.md §7: the ITL trust anchor is the TFTP private key; if a
node crashes and loses it, phones cannot verify new ITLs until the same
certificate and key are restored from a backup that must itself be encrypted.

File layout (all integers unsigned, big-endian):

    magic "PHLBKUP\\0" (8) | version (1) | log2(N) (1) | r (1) | p (1)
    | salt (16) | nonce (12) | AES-256-GCM ciphertext + 16-byte tag

The key is scrypt(passphrase, salt, N, r, p); the whole 40-byte header is the
GCM associated data, so changing any byte of the file (parameters included)
fails authentication. The plaintext is JSON listing nodes and PEM pairs. Hand
written framing because `cryptography` offers primitives, not a file container.
"""

from __future__ import annotations

import json
import os
import struct
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from harness.errors import UsageError
from harness.pki.identity import Identity
from harness.pki.roles import CertRole

MAGIC = b"PHLBKUP\x00"
VERSION = 1
HEADER = struct.Struct(">8sBBBB16s12s")
TAG_LEN = 16
# N = 2**15, r = 8: 32 MiB and ~0.1 s per derivation; the header carries the
# parameters so a later version can raise them and still read old backups.
LOG2_N, R, P = 15, 8, 1
_PLAUSIBLE = {"log2n": range(14, 21), "r": range(1, 17), "p": range(1, 5)}
# The parameters are read before the file is authenticated, so a tampered header
# could ask for gigabytes and tens of seconds; work (N·r·p) and memory (128·N·r
# bytes) are capped at four times today's defaults before any derivation runs.
MAX_WORK = 4 * (1 << LOG2_N) * R * P
MAX_MEMORY = 4 * 128 * (1 << LOG2_N) * R
BAD_PASSPHRASE = "wrong passphrase, or the backup was modified or truncated"


@dataclass(frozen=True)
class BackupItem:
    role: CertRole
    node: str | None
    identity: Identity


def seal(plaintext: bytes, passphrase: str) -> bytes:
    """Encrypt and authenticate `plaintext` under `passphrase`."""
    salt, nonce = os.urandom(16), os.urandom(12)
    header = HEADER.pack(MAGIC, VERSION, LOG2_N, R, P, salt, nonce)
    key = _derive(passphrase, salt, LOG2_N, R, P)
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def unseal(data: bytes, passphrase: str) -> bytes:
    """The plaintext of a sealed backup, or a one-line UsageError saying what is wrong."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise UsageError("not a phonelab backup (bad magic)")
    if len(data) < HEADER.size + TAG_LEN:
        raise UsageError("the backup is truncated")
    _, version, log2n, r, p, salt, nonce = HEADER.unpack_from(data)
    if version != VERSION:
        raise UsageError(f"unsupported backup version {version} (this phonelab reads {VERSION})")
    params = {"log2n": log2n, "r": r, "p": p}
    if any(params[name] not in allowed for name, allowed in _PLAUSIBLE.items()) or (
            (1 << log2n) * r * p > MAX_WORK or 128 * (1 << log2n) * r > MAX_MEMORY):
        raise UsageError("the backup was modified (implausible key-derivation parameters)")
    key = _derive(passphrase, salt, log2n, r, p)
    try:
        return AESGCM(key).decrypt(nonce, data[HEADER.size :], data[: HEADER.size])
    except InvalidTag:
        raise UsageError(BAD_PASSPHRASE) from None


def pack(nodes: list[str], items: list[BackupItem]) -> bytes:
    """JSON plaintext of a backup."""
    entries = [
        {
            "role": item.role.value,
            "node": item.node,
            "cert": item.identity.cert_pem.decode(),
            "key": item.identity.key_pem.decode(),
        }
        for item in items
    ]
    return json.dumps({"format": VERSION, "nodes": nodes, "items": entries}).encode()


def unpack(plaintext: bytes) -> tuple[list[str], list[BackupItem]]:
    """Nodes and identities of an authenticated backup; every pair is re-checked."""
    try:
        doc = json.loads(plaintext)
        nodes = [str(node) for node in doc["nodes"]]
        raw = [(e["role"], e["node"], e["cert"], e["key"]) for e in doc["items"]]
    except (ValueError, KeyError, TypeError):
        raise UsageError("the backup content is unreadable") from None
    items = []
    for role, node, cert, key in raw:
        what = f"backup entry {role}" + (f" of {node}" if node else "")
        identity = Identity.from_pem(str(cert).encode(), str(key).encode(), what, own=True)
        items.append(BackupItem(CertRole.parse(str(role)), node and str(node), identity))
    return nodes, items


def check_passphrase(passphrase: str) -> bytes:
    """The passphrase as key-derivation input (NFC, so terminals agree), never empty."""
    if not passphrase:
        raise UsageError("the backup passphrase must not be empty")
    return unicodedata.normalize("NFC", passphrase).encode()


def _derive(passphrase: str, salt: bytes, log2n: int, r: int, p: int) -> bytes:
    secret = check_passphrase(passphrase)
    return Scrypt(salt=salt, length=32, n=1 << log2n, r=r, p=p).derive(secret)
