"""`LabPKI`: the cluster's certificates and keys as a directory the whole lab shares.

Endpoints, trust-list builders and cluster procedures (regenerate, crash,
backup/restore) must all see the same identities, across processes and runs, so
the PKI lives on disk rather than in memory:

    root/manifest.json                 nodes, addresses, key options
    root/nodes/<node>/<role>.pem|.key  per-node roles (tftp, tvs, capf, tomcat, itlrecovery)
    root/cluster/<role>.pem|.key       sast1, sast2, mfg_ca
    root/phones/<SEPMAC>.pem|.key      cached MICs issued by mfg_ca

Keys are 0600 and every file is replaced atomically (files.py). Each read goes
back to disk, so a regeneration by one process is seen by the next lookup.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

from harness.errors import UsageError
from harness.pki import backup as bk
from harness.pki import issue, mic
from harness.pki.files import load_pair, read_file, remove, save_pair, write_atomic, write_private
from harness.pki.identity import Identity
from harness.pki.roles import BACKUP_ROLES, CLUSTER_ROLES, PER_NODE_ROLES, CertRole, KeyType

MANIFEST = "manifest.json"
_HOST = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*$")
Slot = tuple[CertRole, str | None]


class LabPKI:
    """Server-side identities of a lab cluster, stored under `root`."""

    def __init__(self, root: Path, addresses: dict[str, str], key_type: KeyType, key_size: int):
        self.root = root
        self._addresses = dict(addresses)
        self.key_type = key_type
        self.key_size = key_size

    @classmethod
    def init(
        cls,
        root: Path,
        nodes: list[str],
        key_type: str = "rsa",
        key_size: int = 2048,
        addresses: dict[str, str] | None = None,
    ) -> LabPKI:
        """Create every certificate; nodes default to addresses 127.0.1.1, .2, ..."""
        root = Path(root)
        if (root / MANIFEST).exists():
            raise UsageError(f"{root} already holds a lab PKI (load it, or pick a new directory)")
        if not nodes or len(set(nodes)) != len(nodes):
            raise UsageError("give at least one node, each name once")
        given = addresses or {}
        addr = {node: given.get(node, f"127.0.1.{i}") for i, node in enumerate(nodes, 1)}
        pki = cls(root, addr, _key_type(key_type), issue.check_key_size(key_size))
        pki._check_nodes()
        for role, node in pki.slots():
            pki._create(role, node)
        pki._write_manifest()
        return pki

    @classmethod
    def load(cls, root: Path) -> LabPKI:
        root = Path(root)
        if not (root / MANIFEST).is_file():
            raise UsageError(f"{root} is not a lab PKI (no {MANIFEST}; see `phonelab pki init`)")
        raw = read_file(root / MANIFEST, "lab PKI manifest")
        try:
            doc = json.loads(raw)
            addresses = {str(n["name"]): str(n["address"]) for n in doc["nodes"]}
            pki = cls(root, addresses, KeyType(doc["key_type"]), int(doc["key_size"]))
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{root / MANIFEST}: malformed lab PKI manifest") from None
        pki._check_nodes()
        return pki

    @property
    def nodes(self) -> list[str]:
        return list(self._addresses)

    def address(self, node: str) -> str:
        """The IPv4 address of a node (also in its TLS certificates' SAN)."""
        return self._addresses[self._node(node)]

    def slots(self) -> list[Slot]:
        """Every (role, node) the cluster has; node is None for cluster-wide roles."""
        per_node: list[Slot] = [(r, n) for n in self._addresses for r in PER_NODE_ROLES]
        return per_node + [(role, None) for role in CLUSTER_ROLES]

    def has(self, role: CertRole | str, node: str | None = None) -> bool:
        cert_path, key_path = self._paths(*self._slot(role, node))
        return cert_path.exists() and key_path.exists()

    def identity(self, role: CertRole | str, node: str | None = None) -> Identity:
        """The current certificate and key of `role` (on `node` for per-node roles)."""
        role, node = self._slot(role, node)
        cert_path, key_path = self._paths(role, node)
        where = f" of node {node}" if node else ""
        if not (cert_path.exists() and key_path.exists()):
            raise UsageError(
                f"no {role} certificate{where} in {self.root} (lost? restore a backup "
                "or regenerate it)"
            )
        return load_pair(cert_path, key_path, f"{role}{where}")

    def regenerate(self, role: CertRole | str, node: str | None = None) -> Identity:
        """New key AND new serial for `role`, replacing the files on disk."""
        return self._create(*self._slot(role, node))

    def forget(self, role: CertRole | str, node: str | None = None) -> None:
        """Simulate a crash that loses the key: delete the certificate and key."""
        for path in self._paths(*self._slot(role, node)):
            remove(path)

    def issue_mic(self, device_name: str, model: str) -> Identity:
        """The phone's MIC (RSA-2048, issued by mfg_ca); cached under root/phones/."""
        return mic.issue_or_reuse(
            self.root / "phones", self.identity(CertRole.mfg_ca), device_name, model
        )

    def backup(self, path: Path, passphrase: str) -> list[Slot]:
        """Write an encrypted backup (0600) of the signing identities; returns what it holds.

        Holds every node's tftp identity (required, docs/SECURITY_BY_DEFAULT.md §7) plus
        itlrecovery, sast1 and sast2 where present: all of them sign trust lists, so
        losing one strands phones too. TVS/CAPF/Tomcat are left out on purpose:
        the documented procedure for them is regeneration, not restore.
        """
        bk.check_passphrase(passphrase)
        items = []
        for role, node in self.slots():
            if role in BACKUP_ROLES and (role is CertRole.tftp or self.has(role, node)):
                items.append(bk.BackupItem(role, node, self.identity(role, node)))
        write_private(Path(path), bk.seal(bk.pack(self.nodes, items), passphrase))
        return [(item.role, item.node) for item in items]

    def restore(self, path: Path, passphrase: str) -> list[Slot]:
        """Put back exactly the certificates and keys of a backup; all checks come first."""
        _, items = bk.unpack(bk.unseal(read_file(Path(path), "backup"), passphrase))
        unknown = sorted({i.node for i in items if i.node and i.node not in self._addresses})
        if unknown:
            raise UsageError(f"the backup holds node(s) {', '.join(unknown)} not in this lab PKI")
        slots = [self._slot(item.role, item.node) for item in items]
        for item, slot in zip(items, slots, strict=True):
            save_pair(item.identity, *self._paths(*slot))
        return slots

    def _create(self, role: CertRole, node: str | None) -> Identity:
        key = issue.new_key(role, self.key_type, self.key_size)
        address = self._addresses[node] if node else None
        identity = Identity(issue.server_certificate(role, node, address, key), key)
        save_pair(identity, *self._paths(role, node))
        return identity

    def _slot(self, role: CertRole | str, node: str | None) -> Slot:
        role = CertRole.parse(role)
        if role.per_node:
            if node is None:
                raise UsageError(f"{role} is per node: name one of {', '.join(self.nodes)}")
            return role, self._node(node)
        if node is not None:
            raise UsageError(f"{role} is cluster-wide: do not name a node")
        return role, None

    def _node(self, node: str) -> str:
        if node not in self._addresses:
            raise UsageError(f"unknown node {node!r} (this PKI has {', '.join(self.nodes)})")
        return node

    def _paths(self, role: CertRole, node: str | None) -> tuple[Path, Path]:
        folder = self.root / "nodes" / node if node else self.root / "cluster"
        return folder / f"{role.value}.pem", folder / f"{role.value}.key"

    def _check_nodes(self) -> None:
        for node, address in self._addresses.items():
            if not _HOST.match(node):
                raise UsageError(f"node name {node!r} is not a host name")
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise UsageError(f"node {node}: {address!r} is not an IPv4 address") from None

    def _write_manifest(self) -> None:
        nodes = [{"name": n, "address": a} for n, a in self._addresses.items()]
        options = {"key_type": self.key_type.value, "key_size": self.key_size}
        doc = {"format": 1, "nodes": nodes, **options}
        write_atomic(self.root / MANIFEST, json.dumps(doc, indent=2).encode() + b"\n")


def _key_type(value: str) -> KeyType:
    try:
        return KeyType(value)
    except ValueError:
        raise UsageError(f"unknown key type {value!r} (rsa or ec)") from None
