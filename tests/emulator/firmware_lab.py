"""Test support for the firmware model: real keys and the files a cluster serves.

The firmware decides on real bytes, so its tests build real certificates (RSA
2048, a handful reused for the session) and real trust lists, signed and
encrypted configs with harness.formats, shaped like CUCM's (TFTP certificate
twice in the ITL, TVS and CAPF records, rollback ITL with blank entries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from harness.formats.sgn import sign_file
from harness.formats.trustlist import Record, Role, build_trust_list
from harness.pki.identity import Identity
from phone_drivers.emulator.firmware import Firmware
from phone_drivers.emulator.trust_state import PhoneIdentity, PhoneOptions

MAC = "00112233AABB"
DEVICE = f"SEP{MAC}"
CONFIG = f"{DEVICE}.cnf.xml"
_serial = iter(range(0x1000, 0x10000))


def identity(cn: str, issuer: Identity | None = None) -> Identity:
    """A fresh RSA-2048 certificate; self-signed unless `issuer` is given."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_key = key if issuer is None else issuer.key
    assert isinstance(signing_key, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab")])  # fmt: skip
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(next(_serial))
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(signing_key, hashes.SHA256())
    )
    return Identity(cert, key)


@dataclass(frozen=True)
class Pki:
    """Cluster and phone identities; the `*2` ones are "regenerated" replacements."""

    tftp: Identity
    tftp2: Identity
    tvs: Identity
    tvs2: Identity
    capf: Identity
    capf2: Identity
    sast: Identity
    sast2: Identity
    recovery: Identity
    recovery2: Identity
    mic: Identity
    lsc: Identity
    app: Identity
    stranger: Identity


def make_pki() -> Pki:
    """Fifteen RSA-2048 keys: build once per session."""
    mfg = identity("Manufacturing CA")
    capf = identity("CAPF-lab")
    return Pki(
        tftp=identity("cucm1.lab"), tftp2=identity("cucm1.lab"),
        tvs=identity("TVS-cucm1"), tvs2=identity("TVS-cucm1"),
        capf=capf, capf2=identity("CAPF-lab"),
        sast=identity("SAST token 1"), sast2=identity("SAST token 2"),
        recovery=identity("ITLRECOVERY_cucm1"), recovery2=identity("ITLRECOVERY_cucm1"),
        mic=identity("CP-8861-SEP00112233AABB", mfg),
        lsc=identity("CP-8861-SEP00112233AABB", capf),
        app=identity("tomcat.lab"), stranger=identity("evil.example"),
    )  # fmt: skip


def itl(
    signer: Identity,
    *,
    tftp: Identity | None = None,
    tvs: Sequence[Identity] = (),
    capf: Identity | None = None,
    sast: Sequence[Identity] = (),
    stamp: int = 1,
) -> bytes:
    """A CUCM-style ITL: signer as SAST, TFTP cert as CCM+TFTP, TVS and CAPF records."""
    records = [Record.from_certificate(s.cert, Role.SAST) for s in (signer, *sast)]
    if tftp is not None:
        records.append(Record.from_certificate(tftp.cert, Role.CCM_TFTP))
    records += [Record.from_certificate(t.cert, Role.TVS) for t in tvs]
    if capf is not None:
        records.append(Record.from_certificate(capf.cert, Role.CAPF))
    return build_trust_list(records, signer, timestamp=stamp)


def ctl(
    signer: Identity, *, sast: Sequence[Identity] = (), tftp: Identity | None = None, stamp: int = 1
) -> bytes:
    """A CTL: SAST tokens (signer first) and the CCM+TFTP server."""
    records = [Record.from_certificate(s.cert, Role.SAST) for s in (signer, *sast)]
    if tftp is not None:
        records.append(Record.from_certificate(tftp.cert, Role.CCM_TFTP))
    return build_trust_list(records, signer, filename="CTLFile.tlv", timestamp=stamp)


def rollback_itl(signer: Identity) -> bytes:
    """§2.7: real SAST signer, blank TFTP and TVS entries."""
    records = [Record.from_certificate(signer.cert, Role.SAST),
               Record.empty(Role.CCM_TFTP), Record.empty(Role.TVS)]  # fmt: skip
    return build_trust_list(records, signer, timestamp=7)


def config_xml(
    *,
    tvs: Sequence[str] = ("tvs1.lab",),
    capf_mode: int | None = None,
    capf: Sequence[str] = ("capf.lab",),
    root: str = "device",
    marker: str = "",
) -> bytes:
    """A config with the trust-relevant elements of §4.2; `marker` tells versions apart."""
    members = "".join(f'<member priority="{i}"><port>2445</port><address>{a}</address></member>'
                      for i, a in enumerate(tvs))  # fmt: skip
    mode = "" if capf_mode is None else f"<capfAuthMode>{capf_mode}</capfAuthMode>"
    servers = "".join(f"<capf><phonePort>3804</phonePort><processNodeName>{c}</processNodeName>"
                      "</capf>" for c in capf)  # fmt: skip
    body = (f"<{root}><fullConfig>true</fullConfig><deviceSecurityMode>1</deviceSecurityMode>"
            f"{mode}<capfList>{servers}</capfList><TVS><members>{members}</members></TVS>"
            f"<note>{marker}</note></{root}>")  # fmt: skip
    return body.encode()


def signed(body: bytes, signer: Identity, name: str = f"{CONFIG}.sgn") -> bytes:
    return sign_file(body, signer, filename=name, timestamp=1)


def cluster_files(
    signer: Identity,
    tftp: Identity,
    tvs: Identity,
    capf: Identity | None = None,
    *,
    marker: str = "",
    sast: Sequence[Identity] = (),
) -> dict[str, bytes]:
    """What a CUCM 8.x-11.x TFTP service serves: ITL (both names) and the signed config."""
    data = itl(signer, tftp=tftp, tvs=[tvs], capf=capf, sast=sast)
    config = signed(config_xml(capf_mode=0, marker=marker), tftp)
    return {f"ITL{DEVICE}.tlv": data, "ITLFile.tlv": data, f"{CONFIG}.sgn": config}


def phone(model: str = "8861", /, *, mic: Identity | None = None, **options: bool) -> Firmware:
    return Firmware(PhoneIdentity(MAC, model, mic), PhoneOptions(**options))
