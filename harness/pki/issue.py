"""Certificate profiles of the lab cluster: keys, self-signed server certs, MICs.

CUCM's server certificates are self-signed, one per role and node; phones trust
them through the ITL/TVS, never through a chain. The profiles follow the specs:
the CAPF certificate is a CA (CA:TRUE, pathlen 0, keyCertSign; docs/PROTOCOLS.md §6.1)
because it issues LSCs, and the manufacturing CA issues MICs that CAPF accepts
for certificate authentication (§6.7.1). Roles that sign files (tftp, sast*,
itlrecovery) and the mfg CA always get RSA keys: file signatures are RSASSA
PKCS#1 v1.5 only (§1.5); `key_type="ec"` (P-256) applies to tvs, tomcat, capf.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.errors import UsageError
from harness.pki.identity import Identity, LabPrivateKey
from harness.pki.roles import ORGANISATION, CertRole, KeyType

# 3072 is accepted on purpose: it has no modulus code (§1.1), for negative tests.
RSA_KEY_SIZES = (1024, 2048, 3072, 4096)
SERVER_DAYS = 5 * 365 + 1
MIC_DAYS = 20 * 365 + 5
MFG_CA_DAYS = MIC_DAYS  # the CA lives as long as the MICs it issues
MIC_KEY_SIZE = 2048
_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between lab hosts
LabPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def check_key_size(key_size: int) -> int:
    if key_size not in RSA_KEY_SIZES:
        raise UsageError(f"unsupported RSA key size {key_size} (one of {RSA_KEY_SIZES})")
    return key_size


def new_key(role: CertRole, key_type: KeyType, key_size: int) -> LabPrivateKey:
    """A fresh key for `role`: EC P-256 only where the role allows it, else RSA."""
    if key_type is KeyType.ec and role.ec_capable:
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=check_key_size(key_size))


def server_certificate(
    role: CertRole, node: str | None, address: str | None, key: LabPrivateKey
) -> x509.Certificate:
    """The self-signed certificate of a cluster role (validity 5 years)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, role.common_name(node)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        ]
    )
    days = MFG_CA_DAYS if role is CertRole.mfg_ca else SERVER_DAYS
    builder = _base(name, name, key.public_key(), _now() + dt.timedelta(days))
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
    )
    constraints = x509.BasicConstraints(ca=role.is_ca, path_length=0 if role.is_ca else None)
    builder = builder.add_extension(constraints, critical=True)
    # RSA TLS servers keep keyEncipherment: harness TVS/CAPF offer RSA key exchange (§5.1).
    encipher = isinstance(key, rsa.RSAPrivateKey) and role in _TLS_SERVERS
    usage = _usage(sign=True, encipher=encipher, cert_sign=role.is_ca)
    builder = builder.add_extension(usage, critical=True)
    if role in _TLS_SERVERS and not role.is_ca:
        # No EKU on CAPF: OpenSSL applies an issuer's EKU to the LSCs it issues.
        builder = builder.add_extension(x509.ExtendedKeyUsage(_TLS_EKUS), critical=False)
    if role.per_node and role is not CertRole.itlrecovery:
        assert node is not None
        alt: list[x509.GeneralName] = [x509.DNSName(node)]
        if address:
            alt.append(x509.IPAddress(ipaddress.ip_address(address)))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(key, hashes.SHA256())


def mic_certificate(
    ca: Identity, device_name: str, model: str, key: LabPrivateKey
) -> x509.Certificate:
    """A phone's Manufacturing Installed Certificate, issued by the lab mfg CA."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"CP-{model}-{device_name}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "MIC"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        ]
    )
    ca_key = ca.key
    if not isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise UsageError("the manufacturing CA key cannot sign certificates")
    # A MIC never outlives its issuer, so chain checks at any date stay coherent.
    not_after = min(_now() + dt.timedelta(MIC_DAYS), ca.cert.not_valid_after_utc)
    builder = _base(subject, ca.cert.subject, key.public_key(), not_after)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(_usage(sign=True, encipher=True), critical=True)
    builder = builder.add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
    )
    return builder.sign(ca_key, hashes.SHA256())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _base(
    subject: x509.Name, issuer: x509.Name, public_key: LabPublicKey, not_after: dt.datetime
) -> x509.CertificateBuilder:
    """Common fields: random serial (>= 16 random bytes), backdated start, SKI."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
    )


def _usage(*, sign: bool, encipher: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


_TLS_SERVERS = (CertRole.tftp, CertRole.tvs, CertRole.tomcat, CertRole.capf)
_TLS_EKUS = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
