"""Pure codecs for Cisco Security-by-Default files: bytes in, typed objects out.

Everything that reads or writes trust lists (.tlv), signed files (.sgn) and
encrypted configs (.enc.sgn) goes through this package, so the emulator, the
servers, the fixtures and the CLI agree byte for byte (docs/PROTOCOLS.md §1-4). No
module here touches files or sockets; malformed input raises only `FormatError`.
"""

from harness.formats.digest import Digest
from harness.formats.enc import (
    EncryptedConfig,
    Stub,
    cert_hash,
    encrypt_config,
    parse_encrypted,
    parse_stub,
    stub_config,
)
from harness.formats.errors import FormatError, VerificationError
from harness.formats.header import EncBlock, Header, Signer, SignerInfo, parse_header
from harness.formats.names import dn_string, normalise_dn, same_dn, serial_bytes, serial_int
from harness.formats.roles import Role, role_label
from harness.formats.sgn import SignedFile, parse_signed, sign_file, strip, stripped_name
from harness.formats.trustlist import Record, TrustList, build_trust_list, parse_trust_list

__all__ = [
    "Digest",
    "EncBlock",
    "EncryptedConfig",
    "FormatError",
    "Header",
    "Record",
    "Role",
    "SignedFile",
    "Signer",
    "SignerInfo",
    "Stub",
    "TrustList",
    "VerificationError",
    "build_trust_list",
    "cert_hash",
    "dn_string",
    "encrypt_config",
    "normalise_dn",
    "parse_encrypted",
    "parse_header",
    "parse_signed",
    "parse_stub",
    "parse_trust_list",
    "role_label",
    "same_dn",
    "serial_bytes",
    "serial_int",
    "sign_file",
    "strip",
    "stripped_name",
    "stub_config",
]
