"""The lab PKI: server-side certificates of a CUCM-like cluster, kept on disk.

Public surface: `LabPKI` (the store), `Identity` (certificate + key, the `Signer`
of DESIGN.md) and `CertRole` (which certificate). Everything is files and keys,
no sockets, so every endpoint and procedure can share one PKI directory.
"""

from __future__ import annotations

from harness.pki.identity import Identity
from harness.pki.roles import CertRole, KeyType
from harness.pki.store import LabPKI

__all__ = ["CertRole", "Identity", "KeyType", "LabPKI"]
