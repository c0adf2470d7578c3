"""`phonelab enc`: encrypt and decrypt phone configs (.enc.sgn, docs/PROTOCOLS.md §4).

Encrypted configs are opaque on the wire, so a tester needs a way to produce one
for a given phone certificate (plus the signed stub the phone reads first) and
to open one with a phone key to see exactly what the phone would get. Exit 1
means the file is well-formed but its signature, digest or decryption failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import fail, load_certificate, load_private_key, read_bytes
from harness.cli.sgn_cmd import (
    DigestOpt,
    KeyOpt,
    OutputOpt,
    SignerOpt,
    load_signer,
    parse_digest,
    write_output,
)
from harness.formats.enc import cert_hash, encrypt_config, parse_encrypted, stub_config
from harness.formats.errors import FormatError, VerificationError
from harness.formats.sgn import sign_file

app = typer.Typer(no_args_is_help=True)


@app.command()
def encrypt(
    cnf: Annotated[Path, typer.Argument(help="Full config XML, e.g. SEP001122334455.cnf.xml.")],
    phone_cert: Annotated[
        Path, typer.Option("--phone-cert", help="PEM certificate of the phone (LSC or MIC, RSA).")
    ],
    signer: SignerOpt,
    output: OutputOpt,
    key: KeyOpt = None,
    digest: DigestOpt = "sha1",
    stub: Annotated[
        Path | None, typer.Option("--stub", help="Also write the signed short config here.")
    ] = None,
) -> None:
    """Encrypt CNF for the phone's key and sign it; optionally write the signed stub."""
    xml = read_bytes(cnf, "config")
    device = load_certificate(phone_cert)
    pair = load_signer(signer, key)
    algorithm = parse_digest(digest)
    try:
        short = None if stub is None else stub_config(xml, device)
    except FormatError as exc:
        fail(f"{cnf}: {exc}")
    data = encrypt_config(xml, device, pair, filename=output.name, digest=algorithm)
    write_output(output, data, f"certHash {cert_hash(device)}, ")
    if stub is not None and short is not None:
        signed = sign_file(short, pair, filename=stub.name, digest=algorithm)
        write_output(stub, signed)


@app.command()
def decrypt(
    file: Annotated[Path, typer.Argument(help="Encrypted config (.enc.sgn).")],
    key: Annotated[Path, typer.Option("--key", help="PEM with the phone's private key.")],
    output: OutputOpt,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="TFTP certificate: also check the signature.")
    ] = None,
) -> None:
    """Decrypt FILE with the phone key and write the exact config bytes."""
    try:
        encrypted = parse_encrypted(read_bytes(file))
    except FormatError as exc:
        fail(f"{file}: {exc}")
    device_key = load_private_key(key)
    if cert is not None and not encrypted.verify(load_certificate(cert)):
        fail(f"{file}: signature does NOT verify with {cert}", 1)
    try:
        plain = encrypted.decrypt(device_key)
    except VerificationError as exc:
        fail(f"{file}: decryption failed: {exc}", 1)
    write_output(output, plain)
