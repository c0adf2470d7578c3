"""Helpers every command group shares: one-line errors, PEM loading, output."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from rich.console import Console

from harness.errors import UsageError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to stderr and exit; never a traceback for a user mistake."""
    err_console.print(f"phonelab: {message}", markup=False)
    raise typer.Exit(code)


def read_bytes(path: Path, what: str = "file") -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def load_certificate(path: Path) -> x509.Certificate:
    """First certificate in a PEM (or DER) file."""
    data = read_bytes(path, "certificate")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)[0]
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise UsageError(f"{path}: not a PEM or DER certificate") from exc


def load_private_key(path: Path) -> PrivateKeyTypes:
    """The private key from a PEM file (which may also hold the certificate)."""
    data = read_bytes(path, "key")
    if b"PRIVATE KEY-----" not in data:
        raise UsageError(f"{path}: holds no private key (it looks like a certificate); give the "
                         "PEM file that holds the private key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path}: unreadable private key ({exc})") from exc


@contextmanager
def until_signalled() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM while the block runs; old handlers restored after.

    Long-running commands (`serve`, `twin up`, `console`, `capture`) stop cleanly on
    either signal, so a plain `kill` is as good as Ctrl-C and nothing is lost. The
    handler only writes a byte to a pipe (a self-pipe): calling `Event.set()` from a
    handler takes the event's lock, and a signal landing while the main thread holds
    that lock (inside `wait()`) deadlocked on a burst of signals. A watcher thread
    turns the byte into the event.
    """
    stop = threading.Event()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def handler(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):  # pipe full: a stop is already pending
            os.write(write_fd, b"!")

    def watch() -> None:
        with contextlib.suppress(OSError):
            if os.read(read_fd, 1) == b"!":
                stop.set()

    watcher = threading.Thread(target=watch, name="phonelab-signals", daemon=True)
    watcher.start()
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        with contextlib.suppress(OSError):
            os.write(write_fd, b"\0")  # wake the watcher if no signal came
        watcher.join(timeout=1)
        os.close(write_fd)
        os.close(read_fd)
