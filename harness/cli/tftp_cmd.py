"""`phonelab tftp serve`: the harness's TFTP endpoint on its own, for a bench or a phone.

It serves a directory read-only under the same name policy as the cluster (no
traversal, no private keys) and prints one line per request from the event timeline,
so a phone's boot sequence (CTL, ITL, config) can be watched as it happens. Ctrl-C or
SIGTERM stop it cleanly (exit 0); a bad --root is a usage error (exit 2); a port that
cannot be bound, busy or privileged, is a lab error (exit 3).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import until_signalled
from harness.cli.options import port_or_any
from harness.cli.printer import printing
from harness.errors import LabError
from harness.events import Event, EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import DirectorySource

app = typer.Typer(no_args_is_help=True)


@app.command()
def serve(
    root: Annotated[Path, typer.Option(help="Directory to serve, read-only.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="UDP port (0 = any free port).",
                                      callback=port_or_any)] = 69,
) -> None:
    """Serve ROOT over TFTP until Ctrl-C or SIGTERM, printing one line per request."""
    files = DirectorySource(root)  # UsageError (exit 2) when ROOT is not a directory
    events = EventLog()
    with printing(_line) as listener:
        events.subscribe(listener)
        _serve(files, events, host, port)
    print(f"TFTP stopped after {events.counts.get('tftp.rrq', 0)} requests", flush=True)


def _serve(files: DirectorySource, events: EventLog, host: str, port: int) -> None:
    endpoint = TftpEndpoint(files, events, host=host, port=port)
    try:
        endpoint.start()
    except LabError as exc:
        hint = "ports below 1024 need root; " if 0 < port < 1024 else ""
        other = ", e.g. --port 6969" if port != 6969 else ""
        raise LabError(f"{exc} ({hint}choose another port with --port{other})") from None
    with until_signalled() as stop:
        try:
            bound = endpoint.address
            print(f"TFTP serving {files.root} on {bound[0]}:{bound[1]} (read-only); "
                  "Ctrl-C stops", flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            endpoint.stop()


def _line(event: Event) -> str:
    """One request per line: time, result, peer, file, size, and why when refused."""
    data = event.data
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    who = event.phone or data.get("peer", "-")
    reason = f" ({data['reason']})" if data.get("reason") else ""
    if event.kind == "tftp.error":
        return f"{stamp} {'error':<9} {who:<15} {data.get('file', '-')}{reason}"
    return (f"{stamp} {data.get('result', '?'):<9} {who:<15} {data.get('file')} "
            f"{data.get('bytes', 0)} B{reason}")
