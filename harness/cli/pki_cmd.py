"""`phonelab pki`: create, inspect, regenerate, lose, back up and restore the lab PKI.

The cluster procedures of docs/SECURITY_BY_DEFAULT.md §6-7 (regenerate a certificate,
survive a crash by restoring the TFTP key from an encrypted backup) are also
things a person does by hand on a lab; these commands are thin wrappers over
`harness.pki.LabPKI`. Passphrases never travel as a command-line value (visible
in `ps` and shell history): they come from an environment variable, a file, or
a hidden prompt on a terminal.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.cli.common import read_bytes
from harness.errors import UsageError
from harness.pki import CertRole, Identity, KeyType, LabPKI

app = typer.Typer(no_args_is_help=True)
P = ParamSpec("P")


def one_line_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Report a UsageError as one unwrapped stderr line and exit 2.

    main() maps UsageError the same way, but through a rich console that wraps
    long messages (paths) at 80 columns when stderr is not a terminal.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except UsageError as exc:
            print(f"phonelab: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


DirOpt = Annotated[Path, typer.Option("--dir", help="Lab PKI directory.")]
NodeOpt = Annotated[str | None, typer.Option("--node", help="Node, for per-node roles.")]
EnvOpt = Annotated[
    str | None, typer.Option("--passphrase-env", metavar="VAR", help="Read it from env VAR.")
]
FileOpt = Annotated[
    Path | None, typer.Option("--passphrase-file", help="Read it from the file's first line.")
]


@app.command("init")
@one_line_errors
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="New lab PKI directory.")],
    node: Annotated[list[str], typer.Option("--node", help="NAME or NAME=IPV4; repeat.")],
    key_type: Annotated[KeyType, typer.Option(help="Key type of tvs/tomcat/capf.")] = KeyType.rsa,
    key_size: Annotated[int, typer.Option(help="RSA modulus bits.")] = 2048,
) -> None:
    """Create every certificate and key of a cluster (signing roles always RSA)."""
    names = [spec.partition("=")[0] for spec in node]
    addresses = {name: addr for name, _, addr in (s.partition("=") for s in node) if addr}
    pki = LabPKI.init(directory, names, key_type=key_type, key_size=key_size, addresses=addresses)
    _print_table(pki, f"created lab PKI in {directory}")


@app.command("show")
@one_line_errors
def show_cmd(directory: Annotated[Path, typer.Argument(help="Lab PKI directory.")]) -> None:
    """List every certificate: role, node, subject, serial, SHA-1, key."""
    _print_table(LabPKI.load(directory), f"lab PKI {directory}")


@app.command("regenerate")
@one_line_errors
def regenerate_cmd(role: str, directory: DirOpt, node: NodeOpt = None) -> None:
    """New key and serial for ROLE (then follow the procedure of SbD §6)."""
    pki = LabPKI.load(directory)
    old = f"{pki.identity(role, node).serial:x}" if pki.has(role, node) else "(none)"
    new = pki.regenerate(role, node)
    print(f"{_where(role, node)}: old serial {old}")
    print(f"{_where(role, node)}: new serial {new.serial:x}")


@app.command("forget")
@one_line_errors
def forget_cmd(role: str, directory: DirOpt, node: NodeOpt = None) -> None:
    """Simulate a crash: delete ROLE's certificate and private key."""
    LabPKI.load(directory).forget(role, node)
    print(f"{_where(role, node)}: certificate and private key deleted")


@app.command("backup")
@one_line_errors
def backup_cmd(
    directory: DirOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Backup file to write.")],
    passphrase_env: EnvOpt = None,
    passphrase_file: FileOpt = None,
) -> None:
    """Encrypted backup of the tftp (and itlrecovery, sast) certificates and keys."""
    pki = LabPKI.load(directory)
    secret = _passphrase(passphrase_env, passphrase_file, confirm=True)
    saved = pki.backup(output, secret)
    for role, node in saved:
        print(f"saved {_where(role, node)} serial {pki.identity(role, node).serial:x}")
    print(f"wrote {output} (take a new backup after every TFTP regeneration)")


@app.command("restore")
@one_line_errors
def restore_cmd(
    backup_file: Annotated[Path, typer.Argument(metavar="FILE", help="Backup to restore.")],
    directory: DirOpt,
    passphrase_env: EnvOpt = None,
    passphrase_file: FileOpt = None,
) -> None:
    """Put back exactly the certificates and keys held in a backup."""
    pki = LabPKI.load(directory)
    secret = _passphrase(passphrase_env, passphrase_file, confirm=False)
    for role, node in pki.restore(backup_file, secret):
        print(f"restored {_where(role, node)} serial {pki.identity(role, node).serial:x}")


def _passphrase(env: str | None, path: Path | None, *, confirm: bool) -> str:
    if env and path:
        raise UsageError("give --passphrase-env or --passphrase-file, not both")
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UsageError(f"environment variable {env} is not set")
    elif path:
        try:
            value = read_bytes(path, "passphrase file").decode().splitlines()[0]
        except (UnicodeDecodeError, IndexError):
            raise UsageError(f"{path}: no UTF-8 passphrase on the first line") from None
    elif sys.stdin.isatty():
        value = typer.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm)
    else:
        raise UsageError("no passphrase: use --passphrase-env VAR or --passphrase-file FILE")
    if not value:
        raise UsageError("the backup passphrase must not be empty")
    return value


def _where(role: str, node: str | None) -> str:
    name = CertRole.parse(role).value
    return f"{name} of {node}" if node else name


def _print_table(pki: LabPKI, title: str) -> None:
    nodes = ", ".join(f"{n} ({pki.address(n)})" for n in pki.nodes)
    table = Table("role", "node", "subject", "serial", "sha1", "key", box=box.SIMPLE)
    for role, node in pki.slots():
        if not pki.has(role, node):
            table.add_row(*map(Text, (role.value, node or "-", "(missing)")))
            continue
        try:
            ident = pki.identity(role, node)
        except UsageError as exc:
            table.add_row(*map(Text, (role.value, node or "-", f"(unreadable: {exc})")))
            continue
        row = [_dn(ident.cert.subject), f"{ident.serial:x}", ident.fingerprint_sha1, _key(ident)]
        table.add_row(*map(Text, (role.value, node or "-", *row)))
    # Wide when piped, so serials and fingerprints stay on one line for grep.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 400)
    console.print(title, markup=False)
    console.print(table)
    console.print(f"nodes: {nodes}; key type {pki.key_type}, RSA {pki.key_size} bits", markup=False)


def _dn(name: x509.Name) -> str:
    """CUCM dialect: certificate order, `;`-joined (docs/PROTOCOLS.md §0.3)."""
    return ";".join(attribute.rfc4514_string() for attribute in name)


def _key(identity: Identity) -> str:
    key = identity.key
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC-{key.curve.name}"
    return type(key).__name__
