"""The twin's asyncio TFTP client against the harness's tftpy-based endpoint."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from harness.events import EventLog
from harness.services.tftp import TftpEndpoint
from harness.services.tftp_files import MappingSource
from phone_drivers.emulator.tftp_client import TftpError, TftpOptions, TftpTimeout, fetch

FILES = {"small.xml": b"<device/>", "exact.bin": bytes(range(256)) * 4, "big.bin": b"x" * 70_000}


@pytest.fixture(scope="module")
def server() -> Iterator[TftpEndpoint]:
    endpoint = TftpEndpoint(MappingSource(FILES), EventLog())
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("blksize", [None, 1428])
def test_downloads_byte_exact(server: TftpEndpoint, name: str, blksize: int | None) -> None:
    data = asyncio.run(fetch(server.address, name, options=TftpOptions(blksize=blksize)))
    assert data == FILES[name]


def test_not_found_is_error_1_and_recorded(server: TftpEndpoint) -> None:
    with pytest.raises(TftpError) as info:
        asyncio.run(fetch(server.address, "CTLSEP001122334455.tlv"))
    assert info.value.code == 1
    assert server.events.of_kind("tftp.rrq")[-1].data["result"] == "not_found"


def test_binds_the_phone_address_so_the_server_knows_who_asked(server: TftpEndpoint) -> None:
    server.events.bind_address("127.0.2.7", "SEP0000000000A7")
    mark = server.events.mark()
    asyncio.run(fetch(server.address, "small.xml", local_host="127.0.2.7"))
    # the server records the transfer when the final ACK arrives, which may be just after
    # the client has returned: wait for it (bounded) rather than read the last event
    done = server.events.wait_for(lambda e: e.kind == "tftp.rrq", 2, after=mark)
    assert done.phone == "SEP0000000000A7"


def test_silent_server_times_out_within_budget() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        options = TftpOptions(timeout=0.1, retries=2)
        with pytest.raises(TftpTimeout):
            asyncio.run(asyncio.wait_for(fetch(silent.getsockname(), "x", options=options), 5))
