"""`phonelab tlv`: inspect and build CTL/ITL trust lists (.tlv, docs/PROTOCOLS.md §2).

A tester facing a phone that rejects its ITL needs to see, quickly and without a
CUCM, what the file holds and whether it is self-consistent; and to build lists
byte-compatible with certutils for experiments. `show --json` is the stable,
scriptable form of the same facts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from harness.cli.common import err_console, fail, load_certificate, out_console, read_bytes
from harness.cli.sgn_cmd import (
    DigestOpt,
    KeyOpt,
    OutputOpt,
    SignerOpt,
    load_signer,
    parse_digest,
    write_output,
)
from harness.errors import UsageError
from harness.formats.describe import Json, hex_serial, key_type, summary
from harness.formats.errors import FormatError
from harness.formats.roles import Role, role_label
from harness.formats.roles import parse_role as parse_role_code
from harness.formats.trustlist import Record, TrustList, build_trust_list, parse_trust_list

ROLLBACK_WORDS = "YES (blank TFTP/TVS entries: prepared for rollback)"
app = typer.Typer(no_args_is_help=True)


def parse_role(text: str) -> int:
    """A role label (SAST, CCM, CCM+TFTP, TFTP, CAPF, APP-SERVER, TVS) or a code 0-65535."""
    try:
        return parse_role_code(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _render(info: Json, trust: TrustList) -> None:
    """Human form: a few header lines, a table of records, the verdict."""
    header, signer = trust.header, trust.header.signer
    lines = [
        f"file        {info['file']} ({info['size']} bytes, sha256 {info['sha256']})",
        f"header      version {info['version']}, signer version {info['signer_version']}, "
        f"{header.header_length} bytes, digest {header.digest.label}",
        f"filename    {header.filename}   timestamp {info['time']} ({header.timestamp})",
        f"signer      {signer.subject}  issuer {signer.issuer}  serial {signer.serial:x}",
        f"rollback    {ROLLBACK_WORDS if trust.is_rollback else 'no'}",
    ]
    for line in lines:
        out_console.print(line, markup=False, soft_wrap=True)
    table = Table(title="records", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("#", "role", "subject", "issuer", "serial", "key", "sha1 (prefix)"):
        table.add_column(column, overflow="fold", no_wrap=column in ("#", "role", "key"))
    for index, record in enumerate(trust.records):
        kind = key_type(record) or ("empty" if record.is_empty else "hash only")
        cells = (role_label(record.role), record.subject, record.issuer, hex_serial(record.serial))
        table.add_row(str(index), *(str(c or "-") for c in cells), kind, (record.sha1 or "-")[:16])
    # piped output is not squeezed to rich's default 80 columns
    (out_console if out_console.is_terminal else Console(width=160)).print(table)
    where = info["signer_record"]
    if info["signature_valid"]:
        verdict = f"valid (signer is record #{where})"
    else:
        verdict = "INVALID" + ("" if where is not None else " (no SAST record matches the signer)")
    out_console.print(f"signature   {verdict}", markup=False, soft_wrap=True)


@app.command()
def show(
    file: Annotated[Path, typer.Argument(help="Trust list to inspect (.tlv).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")] = False,
) -> None:
    """Header, records and signature verdict. Exit 0 valid, 1 invalid, 2 malformed."""
    data = read_bytes(file)
    try:
        trust = parse_trust_list(data)
    except FormatError as exc:
        fail(f"{file}: {exc}")
    info = summary(file, trust)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        _render(info, trust)
    if not info["signature_valid"]:
        raise typer.Exit(1)


@app.command()
def build(
    output: OutputOpt,
    signer: SignerOpt,
    record: Annotated[list[str], typer.Option("--record", help="ROLE=CERT_PEM, repeatable.")],
    key: KeyOpt = None,
    digest: DigestOpt = "sha1",
    version: Annotated[str, typer.Option("--version", help="Signer version: 1.0 or 1.1.")] = "1.0",
    filename: Annotated[str | None, typer.Option("--filename", help="FILENAME field.")] = None,
) -> None:
    """Build and sign a trust list holding exactly the given records, in order."""
    if version not in ("1.0", "1.1"):
        raise UsageError(f"--version must be 1.0 or 1.1, not {version!r}")
    pair = load_signer(signer, key)
    records = []
    for item in record:
        label, equals, pem = item.partition("=")
        if not equals or not pem:
            raise UsageError(f"--record {item!r}: expected ROLE=CERT_PEM")
        records.append(Record.from_certificate(load_certificate(Path(pem)), parse_role(label)))
    default = "CTLFile.tlv" if output.name.upper().startswith("CTL") else "ITLFile.tlv"
    data = build_trust_list(records, pair, digest=parse_digest(digest),
                            filename=filename or default, signer_version=(1, int(version[-1])))
    write_output(output, data, f"{len(records)} records, ")
    if not any(r.role == Role.SAST and r.matches(pair.cert) for r in records):
        warning = "phonelab: warning: the signer is not a SAST record; the list will not verify"
        err_console.print(warning, markup=False, soft_wrap=True)

