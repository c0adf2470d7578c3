"""A trust list as plain JSON-ready data: what `tlv show --json` prints and reports attach.

Kept beside the parser so the CLI, the Allure ITL/CTL dumps and tests describe a
trust list with the same fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness.formats.roles import role_label
from harness.formats.trustlist import Record, TrustList

Json = dict[str, object]


def hex_serial(serial: int | None) -> str | None:
    return None if serial is None else format(serial, "x")


def _version(pair: tuple[int, int] | None) -> str | None:
    return None if pair is None else f"{pair[0]}.{pair[1]}"


def key_type(record: Record) -> str | None:
    key = record.verifying_key
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}"
    return None if record.public_key is None else "key only"


def record_json(record: Record) -> Json:
    """One record as `show --json` prints it."""
    return {
        "role": role_label(record.role),
        "role_code": record.role,
        "subject": record.subject,
        "issuer": record.issuer,
        "serial": hex_serial(record.serial),
        "sha1": record.sha1,
        "key": key_type(record),
        "empty": record.is_empty,
        "cert_hash": None if record.cert_hash is None else record.cert_hash.hex(),
        "dns_name": record.dns_name,
        "ip_address": None if record.ip_address is None else str(record.ip_address),
    }


def summary(path: Path, trust: TrustList) -> Json:
    """Everything `show` reports, as one JSON-ready object."""
    header, signer_record = trust.header, trust.signer_record()
    stamp = header.timestamp
    return {
        "file": str(path),
        "size": len(trust.raw),
        "sha256": trust.digest,
        "version": _version(header.version),
        "signer_version": _version(header.signer_version),
        "header_length": header.header_length,
        "filename": header.filename,
        "timestamp": stamp,
        "time": None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat(),
        "digest": header.digest.label,
        "signer": {
            "subject": header.signer.subject,
            "issuer": header.signer.issuer,
            "serial": hex_serial(header.signer.serial),
        },
        "signer_record": next((i for i, r in enumerate(trust.records) if r is signer_record), None),
        "signature_valid": trust.verify(),
        "rollback": trust.is_rollback,
        "records": [record_json(record) for record in trust.records],
    }
