"""The rack applier, `tc netem` through pyroute2, in a namespace pair this test makes.

Server side 198.18.212.1, phone side 198.18.212.2, joined by a veth pair; UDP and TCP
peers run inside the namespaces (`ip netns exec`), so the root namespace is never
touched. Without root or `ip netns` the tests skip; the effect tests also skip when
the kernel has no sch_netem (some CI kernels), the refusals run everywhere.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from rack_network.netns import Wire, ip, veth_pair

from fixtures.netem import NETEM, Netem, Target
from harness.errors import LabError
from harness.services.impairment import Draws, Impairment

SERVER, PHONE = "198.18.212.1", "198.18.212.2"
IMPAIRED, CLEAR, EPHEMERAL = 6969, 7000, 40000

ECHO = textwrap.dedent("""
    import socket, sys, threading
    def echo(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((sys.argv[1], port))
        while True:
            data, peer = s.recvfrom(2048)
            s.sendto(data, peer)
    for port in map(int, sys.argv[2:]):
        threading.Thread(target=echo, args=(port,), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
""")

PROBE = textwrap.dedent("""
    import json, socket, sys, time
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[4], 0))
    s.settimeout(0.6)
    rtts = []
    for i in range(count):
        start = time.monotonic()
        s.sendto(str(i).encode(), (host, port))
        try:
            while s.recv(2048) != str(i).encode():
                pass
            rtts.append(time.monotonic() - start)
        except TimeoutError:
            pass
    print(json.dumps(rtts))
""")


@pytest.fixture
def wire() -> Iterator[Wire]:
    with veth_pair([f"{SERVER}/24"], "02:00:00:00:d4:02") as pair:
        ip("-n", pair.client, "addr", "add", f"{PHONE}/24", "dev", pair.client_if)
        yield pair


@pytest.fixture
def echo(wire: Wire) -> Iterator[None]:
    server = subprocess.Popen(["ip", "netns", "exec", wire.server, sys.executable, "-c", ECHO,
                               SERVER, str(IMPAIRED), str(CLEAR), str(EPHEMERAL)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield
    finally:
        server.kill()
        server.wait(timeout=5)


def probe(wire: Wire, port: int, count: int = 10) -> list[float]:
    """Round-trip times of `count` datagrams from the phone side (lost ones missing)."""
    done = subprocess.run(["ip", "netns", "exec", wire.client, sys.executable, "-c", PROBE,
                           SERVER, str(port), str(count), PHONE],
                          capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(done.stdout))


def root_kinds(wire: Wire) -> set[str]:
    with IPRoute(netns=wire.server) as ipr:
        index = ipr.link_lookup(ifname=wire.server_if)[0]
        return {str(q.get_attr("TCA_KIND")) for q in ipr.get_qdiscs(index)
                if q["parent"] == 0xFFFFFFFF}


def require_netem(wire: Wire) -> None:
    with IPRoute(netns=wire.server) as ipr:
        index = ipr.link_lookup(ifname=wire.server_if)[0]
        try:
            ipr.tc("add", "netem", index, handle=NETEM, delay=1000)  # the root, by default
        except NetlinkError as exc:
            if exc.code != errno.ENOENT:  # anything but "no such qdisc kind" is a failure
                raise
            pytest.skip(f"this kernel has no sch_netem (CONFIG_NET_SCH_NETEM): {exc}")
        ipr.tc("del", "netem", index, handle=NETEM)


def impairment(**fields: float) -> tuple[Impairment, Draws]:
    return Impairment("tftp", seed=1, **fields), Draws(1)  # type: ignore[arg-type]


# --- refusals (every kernel) ---------------------------------------------------------------
def test_an_address_no_interface_holds_is_a_lab_error(wire: Wire) -> None:
    netem = Netem([Target.port("198.18.212.77", "udp", IMPAIRED)], netns=wire.server)
    with pytest.raises(LabError, match=r"no interface .* holds 198\.18\.212\.77"):
        netem.apply(*impairment(loss=0.3), out=False)


def test_an_interface_with_its_own_qdisc_is_left_alone(wire: Wire) -> None:
    ip("-n", wire.server, "link", "set", wire.server_if, "txqueuelen", "1000")
    subprocess.run(["ip", "netns", "exec", wire.server, "tc", "qdisc", "add", "dev",
                    wire.server_if, "root", "tbf", "rate", "100mbit", "burst", "32kbit",
                    "latency", "50ms"], check=True, timeout=10)
    netem = Netem([Target.port(SERVER, "udp", IMPAIRED)], netns=wire.server)
    with pytest.raises(LabError, match="own root qdisc"):
        netem.apply(*impairment(loss=0.3), out=False)
    assert root_kinds(wire) == {"tbf"}
    netem.lift()  # nothing was installed: nothing to remove
    assert root_kinds(wire) == {"tbf"}


def test_a_failed_install_leaves_the_interface_as_it_was(wire: Wire) -> None:
    before = root_kinds(wire)
    netem = Netem([Target.port(SERVER, "udp", IMPAIRED)], netns=wire.server)
    try:
        netem.apply(*impairment(delay=0.2), out=False)
    except LabError as exc:  # a kernel without sch_netem: a clear error, no half set-up
        assert "sch_netem" in str(exc)
        assert root_kinds(wire) == before
        return
    netem.lift()
    assert root_kinds(wire) == before


def test_no_targets_is_a_lab_error() -> None:
    with pytest.raises(LabError, match="runs on no node"):
        Netem([])


# --- effects (kernels with sch_netem) --------------------------------------------------------
@pytest.mark.usefixtures("echo")
def test_delay_reaches_only_the_service_port(wire: Wire) -> None:
    require_netem(wire)
    netem = Netem([Target.port(SERVER, "udp", IMPAIRED)], netns=wire.server)
    netem.apply(*impairment(delay=0.2), out=False)
    try:
        slow, fast = probe(wire, IMPAIRED, 5), probe(wire, CLEAR, 5)
    finally:
        netem.lift()
    assert len(slow) == 5 and all(0.19 <= rtt < 0.5 for rtt in slow), slow
    assert len(fast) == 5 and all(rtt < 0.1 for rtt in fast), fast
    assert root_kinds(wire) != {"htb"}  # lifted: the kernel default is back


@pytest.mark.usefixtures("echo")
def test_outage_drops_everything_then_lifts(wire: Wire) -> None:
    require_netem(wire)
    netem = Netem([Target.port(SERVER, "udp", IMPAIRED)], netns=wire.server)
    netem.apply(*impairment(loss=0.1), out=True)
    try:
        assert probe(wire, IMPAIRED, 4) == []
        assert len(probe(wire, CLEAR, 4)) == 4
        assert netem.lost() >= 4
        netem.apply(*impairment(loss=0.0), out=False)  # the outage ends: netem changed
        assert len(probe(wire, IMPAIRED, 4)) == 4
    finally:
        netem.lift()
    assert len(probe(wire, IMPAIRED, 4)) == 4


@pytest.mark.usefixtures("echo")
def test_loss_ratio_on_a_tftp_target(wire: Wire) -> None:
    """A TFTP target: its request port and the ephemeral ports lose half; others none."""
    require_netem(wire)
    netem = Netem([Target.tftp(SERVER, IMPAIRED)], netns=wire.server)
    netem.apply(*impairment(loss=0.5), out=False)
    try:
        start = time.monotonic()
        answered = len(probe(wire, IMPAIRED, 60))
        transfers = len(probe(wire, EPHEMERAL, 60))
        clear = len(probe(wire, CLEAR, 10))
    finally:
        netem.lift()
    assert 12 <= answered <= 48, (answered, time.monotonic() - start)  # 60 × 0.5, ±4.6 σ
    assert 12 <= transfers <= 48, transfers
    assert clear == 10


def test_a_second_service_on_the_same_interface_is_refused(wire: Wire) -> None:
    first = Netem([Target.port(SERVER, "tcp", 2445)], netns=wire.server)
    try:
        first.apply(*impairment(delay=0.1), out=False)
    except LabError:
        pytest.skip("this kernel has no sch_netem: nothing to be second to")
    try:
        second = Netem([Target.port(SERVER, "tcp", 3804)], netns=wire.server)
        with pytest.raises(LabError, match="one service at a time"):
            second.apply(*impairment(delay=0.1), out=False)
    finally:
        first.lift()
