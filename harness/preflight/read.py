"""Read a live cluster the way a phone does, over TFTP and TVS only (never a write).

Preflight must work against any cluster (a real CUCM or `phonelab serve`), so it
reads nothing but what phones read: CTLFile.tlv, ITLFile.tlv, per-device trust
lists and each phone's config, and asks TVS about the signer certificates. Every
signature is verified and every certificate's expiry noted. TFTP is tftpy's client
(a well-kept library; read requests only); TVS is phonelab's TVS client.
"""

from __future__ import annotations

import datetime
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import tftpy
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from harness.errors import LabError
from harness.formats import FormatError, parse_signed, parse_trust_list, role_label
from harness.formats.enc import parse_encrypted, parse_stub
from harness.formats.names import dn_string
from harness.formats.roles import Role
from harness.formats.trustlist import TrustList
from harness.phone_models import MODELS
from harness.services.tvs_client import TvsClient, TvsServer, TvsUnavailable

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class CertificateFact:
    """One certificate found in a trust list, with what a release manager asks of it."""

    where: str  # "ITLFile.tlv", "CTLFile.tlv"
    roles: str
    subject: str
    serial: str
    not_after: str
    days_left: int

    @property
    def state(self) -> str:
        if self.days_left < 0:
            return "expired"
        return "expiring" if self.days_left < EXPIRY_WARNING_DAYS else "ok"


@dataclass(frozen=True)
class TrustListFact:
    name: str
    signer: str  # subject of the signer, with its serial
    records: int
    verified: bool
    rollback: bool
    digest: str


@dataclass
class PhoneFact:
    name: str
    model: str | None
    config: str | None  # the file name served, None when none is
    signed_by: str | None = None
    verified: bool | None = None
    encrypted: bool = False
    load: str | None = None
    own_itl: str | None = None  # ITLSEP<MAC>.tlv: "same as ITLFile.tlv", "differs", "absent"


@dataclass
class TvsFact:
    server: str
    presented: str | None  # subject of the certificate TVS presented
    in_itl: bool
    vouches_for_tftp: bool | None
    error: str | None = None


@dataclass
class ClusterSnapshot:
    """Everything preflight read; `ctl`/`itl` are parsed when served."""

    tftp: list[tuple[str, int]]
    ctl: TrustList | None = None
    itl: TrustList | None = None
    trust_lists: list[TrustListFact] = field(default_factory=list)
    certificates: list[CertificateFact] = field(default_factory=list)
    phones: list[PhoneFact] = field(default_factory=list)
    tvs: list[TvsFact] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)

    @property
    def tftp_signer(self) -> x509.Certificate | None:
        """The certificate that signs configs: the ITL's (CCM+)TFTP record."""
        if self.itl is None:
            return None
        for role in (Role.CCM_TFTP, Role.TFTP):
            for record in self.itl.records_with(role):
                if record.certificate:
                    return x509.load_der_x509_certificate(record.certificate)
        return None


class Reader:
    """Fetches files from the first TFTP server that answers; a silent cluster is LabError."""

    def __init__(self, tftp: list[tuple[str, int]], timeout: float = 3.0) -> None:
        self.tftp, self.timeout = tftp, timeout
        self.read: list[str] = []

    def fetch(self, name: str) -> bytes | None:
        errors = []
        for host, port in self.tftp:
            out = io.BytesIO()
            try:
                tftpy.TftpClient(host, port).download(name, out, timeout=self.timeout,
                                                      retries=1)
            except tftpy.TftpShared.TftpFileNotFoundError:
                self.read.append(name)
                return None
            except tftpy.TftpShared.TftpException as exc:
                if "not found" in str(exc).lower():
                    self.read.append(name)
                    return None
                errors.append(f"{host}:{port}: {exc}")
                continue
            except OSError as exc:
                errors.append(f"{host}:{port}: {exc.strerror or exc}")
                continue
            self.read.append(name)
            return out.getvalue()
        raise LabError(f"cannot read {name} from any TFTP server ({'; '.join(errors)})")


def read_cluster(tftp: list[tuple[str, int]], tvs: list[tuple[str, int]],
                 phones: list[tuple[str, str | None]], *, default_only: bool = False,
                 timeout: float = 3.0, now: datetime.datetime | None = None) -> ClusterSnapshot:
    """Read trust lists, phone configs and TVS answers into one snapshot."""
    reader = Reader(tftp, timeout)
    snap = ClusterSnapshot(tftp)
    moment = now or datetime.datetime.now(datetime.UTC)
    for name, attr in (("CTLFile.tlv", "ctl"), ("ITLFile.tlv", "itl")):
        data = reader.fetch(name)
        if data is None:
            continue
        try:
            parsed = parse_trust_list(data)
        except FormatError as exc:
            raise LabError(f"{name} served by the cluster is malformed: {exc}") from None
        setattr(snap, attr, parsed)
        snap.trust_lists.append(_trust_fact(name, parsed))
        snap.certificates += _certificates(name, parsed, moment)
    signer = snap.tftp_signer
    if default_only:
        phones = []
        data = reader.fetch("XMLDefault.cnf.xml.sgn") or reader.fetch("XMLDefault.cnf.xml")
        snap.phones.append(_config_fact("XMLDefault", None, data, signer))
    for name, model in phones:
        data, served = None, None
        for candidate in (f"{name}.cnf.xml.enc.sgn", f"{name}.cnf.xml.sgn", f"{name}.cnf.xml"):
            data = reader.fetch(candidate)
            if data is not None:
                served = candidate
                break
        fact = _config_fact(name, served, data, signer)
        fact.model = model or fact.model
        own = reader.fetch(f"ITL{name}.tlv") if snap.itl is not None else None
        fact.own_itl = ("absent" if own is None else
                        "same as ITLFile.tlv" if snap.itl and own == snap.itl.raw else "differs")
        snap.phones.append(fact)
    snap.tvs = [_ask_tvs(server, snap, timeout) for server in tvs]
    snap.files_read = reader.read
    return snap


def _trust_fact(name: str, trust: TrustList) -> TrustListFact:
    signer = trust.header.signer
    return TrustListFact(name, f"{signer.subject} (serial {signer.serial:x})",
                         len(trust.records), trust.verify(), trust.is_rollback, trust.digest)


def _certificates(where: str, trust: TrustList, now: datetime.datetime) -> list[CertificateFact]:
    facts: dict[bytes, CertificateFact] = {}
    roles: dict[bytes, list[str]] = {}
    for record in trust.records:
        if not record.certificate:
            continue
        roles.setdefault(record.certificate, []).append(str(role_label(record.role)))
        try:
            cert = x509.load_der_x509_certificate(record.certificate)
        except ValueError:
            continue
        left = (cert.not_valid_after_utc - now).days
        facts[record.certificate] = CertificateFact(
            where, "", dn_string(cert.subject), f"{cert.serial_number:x}",
            cert.not_valid_after_utc.strftime("%Y-%m-%d"), left)
    return [CertificateFact(f.where, "+".join(roles[der]), f.subject, f.serial, f.not_after,
                            f.days_left) for der, f in facts.items()]


def _config_fact(name: str, served: str | None, data: bytes | None,
                 signer: x509.Certificate | None) -> PhoneFact:
    fact = PhoneFact(name, None, served)
    if data is None or (served is None and name != "XMLDefault"):
        return fact
    fact.config = fact.config or "XMLDefault.cnf.xml(.sgn)"
    body = data
    try:
        if (served or "").endswith(".enc.sgn"):
            encrypted = parse_encrypted(data)
            fact.encrypted, fact.verified = True, bool(signer and encrypted.verify(signer))
            fact.signed_by = encrypted.header.signer.subject
            return fact
        if data[:1] == b"\x01":  # a signed file starts with the VERSION tag
            signed = parse_signed(data)
            fact.signed_by = signed.header.signer.subject
            fact.verified = bool(signer and signed.verify(signer))
            body = signed.body
        fact.encrypted = parse_stub(body).encrypted
        root = ET.fromstring(body)
        fact.load = (root.findtext("loadInformation") or "").strip() or None
    except (FormatError, ET.ParseError, ValueError):
        fact.verified = False
    fact.model = _model_from_load(fact.load)
    return fact


_LOAD_MODELS = {"40": "7940", "60": "7960", "41": "7941", "61": "7961", "42": "7962",
                "45": "7965", "75": "7975", "11": "7911", "88xx": "8845", "8845_65": "8845",
                "8941_8945": "8945"}


def _model_from_load(load: str | None) -> str | None:
    """A representative model for a load id (SIP42.… → 7962; same family, same rules)."""
    if not load:
        return None
    head = load.split(".", 1)[0].upper().removeprefix("SCCP").removeprefix("SIP")
    if head in MODELS:  # loads named after the model itself (SIP7962.…)
        return head
    return _LOAD_MODELS.get(head.lower()) or _LOAD_MODELS.get(head)


def _ask_tvs(server: tuple[str, int], snap: ClusterSnapshot, timeout: float) -> TvsFact:
    presented: list[bytes] = []
    itl_tvs = {r.certificate for r in snap.itl.records_with(Role.TVS)} if snap.itl else set()

    def accept(der: bytes) -> bool:
        presented.append(der)
        return True  # preflight reports trust; it does not refuse to ask

    fact = TvsFact(f"{server[0]}:{server[1]}", None, False, None)
    signer = snap.tftp_signer
    client = TvsClient([TvsServer(server[0], server[1], 1)], accept, timeout=timeout)
    try:
        der = signer.public_bytes(Encoding.DER) if signer is not None else b""
        result = client.verify_blocking(der, "CP-0000-SEP000000000000")
        fact.vouches_for_tftp = result.valid if signer is not None else None
    except TvsUnavailable as exc:
        fact.error = str(exc)
    if presented:
        cert = x509.load_der_x509_certificate(presented[0])
        fact.presented = dn_string(cert.subject)
        fact.in_itl = presented[0] in itl_tvs
    return fact
