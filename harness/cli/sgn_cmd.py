"""`phonelab sgn`: sign, verify and strip signed files (.sgn, docs/PROTOCOLS.md §3).

Lets a tester check by hand what the TFTP endpoint serves and what a phone would
accept, with the same codec the harness uses. It also holds the signer-loading
helpers that `tlv build` and `enc encrypt` share, so every command treats a PEM
holding both certificate and key, a separate `--key`, or a mismatched key alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness.cli.common import fail, load_certificate, load_private_key, out_console, read_bytes
from harness.errors import UsageError
from harness.formats.digest import Digest
from harness.formats.errors import FormatError
from harness.formats.sgn import SignedFile, parse_signed, sign_file, strip

app = typer.Typer(no_args_is_help=True)

SignerOpt = Annotated[
    Path, typer.Option("--signer", help="PEM with the signer certificate (and key, or use --key).")
]
KeyOpt = Annotated[
    Path | None, typer.Option("--key", help="PEM with the signer's key, if not in --signer.")
]
DigestOpt = Annotated[str, typer.Option("--digest", help="Signature digest: sha1 or sha512.")]
OutputOpt = Annotated[Path, typer.Option("-o", "--output", help="File to write.")]


@dataclass(frozen=True)
class PemSigner:
    """A certificate and its private key loaded from the command line."""

    cert: x509.Certificate
    key: PrivateKeyTypes


def load_signer(cert_path: Path, key_path: Path | None) -> PemSigner:
    """Certificate from `cert_path`, key from `key_path` or the same file; must match."""
    cert = load_certificate(cert_path)
    key = load_private_key(key_path or cert_path)
    spki = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise UsageError(f"{key_path or cert_path}: private key does not match {cert_path}")
    return PemSigner(cert, key)


def parse_digest(text: str) -> Digest:
    """`sha1`/`sha512` from the command line (certutils refuses sha256 for files)."""
    choices = {"sha1": Digest.SHA1, "sha512": Digest.SHA512}
    try:
        return choices[text.strip().lower().replace("-", "")]
    except KeyError:
        raise UsageError(f"--digest must be sha1 or sha512, not {text!r}") from None


def write_output(path: Path, data: bytes, detail: str = "") -> None:
    """Write a result file and say so; an unwritable path is a usage error, not a traceback."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    out_console.print(f"wrote {path} ({detail}{len(data)} bytes)", markup=False, soft_wrap=True)


def parse_file(path: Path) -> SignedFile:
    """Read and decode a signed file; malformed bytes exit 2 with the offset."""
    try:
        return parse_signed(read_bytes(path))
    except FormatError as exc:
        fail(f"{path}: {exc}")


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="Signed file (.sgn, .sha512, .tlv, .enc.sgn).")],
    cert: Annotated[Path, typer.Option("--cert", help="PEM certificate of the signer.")],
) -> None:
    """Exit 0 if CERT's key verifies FILE's signature, 1 if not, 2 if FILE is malformed."""
    signed = parse_file(file)
    certificate = load_certificate(cert)
    signer = signed.signer
    named = f"header names {signer.subject or '?'} serial {signer.serial:x}"
    if not signed.verify(certificate):
        fail(f"{file}: signature does NOT verify with {cert} ({named})", 1)
    hint = "" if signed.names_signer(certificate) else " (but the header names another signer)"
    out_console.print(f"{file}: signature valid, {named}{hint}", markup=False, soft_wrap=True)


@app.command()
def sign(
    file: Annotated[Path, typer.Argument(help="File to sign, e.g. SEP001122334455.cnf.xml.")],
    signer: SignerOpt,
    output: OutputOpt,
    key: KeyOpt = None,
    digest: DigestOpt = "sha1",
) -> None:
    """Prepend a signed header (VERSION 1.0); FILENAME is the output's base name."""
    body = read_bytes(file)
    pair = load_signer(signer, key)
    data = sign_file(body, pair, filename=output.name, digest=parse_digest(digest))
    write_output(output, data)


@app.command(name="strip")
def strip_command(
    file: Annotated[Path, typer.Argument(help="Signed file.")],
    output: OutputOpt,
) -> None:
    """Write the payload after the header, unchanged (no signature check)."""
    data = read_bytes(file)
    try:
        body = strip(data)
    except FormatError as exc:
        fail(f"{file}: {exc}")
    write_output(output, body)
