"""Network namespaces a test makes and removes: a phone-side and a server-side host.

Only 198.18.0.0/15 addresses are used, inside namespaces this process created,
so nothing leaves the machine and the root namespace is never touched. Without
CAP_NET_ADMIN (or `ip netns`) the tests that need them skip with the reason.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

_count = itertools.count()


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10,
                          check=check)


def unique(prefix: str) -> str:
    """A name no concurrent test uses (pid + counter), short enough for an interface."""
    return f"{prefix}{os.getpid() % 100000}{next(_count)}"


@contextmanager
def namespace() -> Iterator[str]:
    """A fresh, empty namespace with lo up; skips the test when namespaces are not allowed."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 `ip` is not installed")
    name = unique("pl")
    made = ip("netns", "add", name, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        ip("netns", "del", name, check=False)


@dataclass(frozen=True)
class Wire:
    """Two namespaces joined by a veth pair: `server` side and `client` (the phone)."""

    server: str
    server_if: str
    client: str
    client_if: str


@contextmanager
def veth_pair(server_addresses: list[str], client_mac: str) -> Iterator[Wire]:
    """Server namespace holding `server_addresses` (CIDR), client with `client_mac`."""
    with namespace() as server, namespace() as client:
        a, b = unique("pv"), unique("pv")
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        try:
            ip("link", "set", a, "netns", server)
            ip("link", "set", b, "netns", client)
        except subprocess.CalledProcessError:
            ip("link", "del", a, check=False)
            raise
        for address in server_addresses:
            ip("-n", server, "addr", "add", address, "dev", a)
        ip("-n", server, "link", "set", a, "up")
        ip("-n", client, "link", "set", b, "address", client_mac)
        ip("-n", client, "link", "set", b, "up")
        yield Wire(server, a, client, b)
