"""Phone MICs (Manufacturing Installed Certificates) issued by the lab mfg CA.

Real phones leave the factory with a MIC signed by Cisco's manufacturing CA; CAPF
accepts it for certificate authentication (docs/PROTOCOLS.md §6.7.1) and phones may
present it to TVS. The twin phones need the same, and a twin should keep its MIC
across runs like hardware does, so MICs are cached on disk and reissued only when
the cached one no longer chains to the current mfg CA (after its regeneration)
or names another model.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness.errors import UsageError
from harness.pki import issue
from harness.pki.files import load_pair, save_pair
from harness.pki.identity import Identity

_DEVICE = re.compile(r"^SEP[0-9A-F]{12}$")
_MODEL = re.compile(r"^[A-Z0-9]{2,16}$")


def mic_common_name(device_name: str, model: str) -> str:
    """`CP-<model>-SEP<MAC>` after checking both parts (model may carry `CP-`)."""
    device, bare = device_name.upper(), model.upper().removeprefix("CP-")
    if not _DEVICE.match(device):
        raise UsageError(f"device name {device_name!r} is not SEP followed by 12 hex digits")
    if not _MODEL.match(bare):
        raise UsageError(f"phone model {model!r} is not like 8861 or 7975G")
    return f"CP-{bare}-{device}"


def issue_or_reuse(folder: Path, ca: Identity, device_name: str, model: str) -> Identity:
    """The cached MIC of `device_name` if still good, else a fresh RSA-2048 one."""
    common_name = mic_common_name(device_name, model)
    device = device_name.upper()
    cert_path, key_path = folder / f"{device}.pem", folder / f"{device}.key"
    if cert_path.exists() and key_path.exists():
        cached = load_pair(cert_path, key_path, f"MIC of {device}")
        if _issued_by(cached, ca) and _common_name(cached) == common_name:
            return cached
    key = rsa.generate_private_key(public_exponent=65537, key_size=issue.MIC_KEY_SIZE)
    _, model_part, _ = common_name.split("-", 2)
    mic = Identity(issue.mic_certificate(ca, device, model_part, key), key)
    save_pair(mic, cert_path, key_path)
    return mic


def _common_name(identity: Identity) -> str:
    names = identity.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _issued_by(mic: Identity, ca: Identity) -> bool:
    """True when `mic` names `ca` as issuer and carries a valid signature of its key."""
    try:
        mic.cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
