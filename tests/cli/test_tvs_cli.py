"""`phonelab tvs serve` and `phonelab tvs query` as a user runs them (subprocesses)."""

from __future__ import annotations

import datetime
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PHONELAB = Path(sys.executable).parent / "phonelab"
DEVICE = "CP-7962-SEP001122334455"


def write_identity(directory: Path, cn: str, serial: int, with_key: bool = True) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if with_key:
        pem += key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    path = directory / f"{cn}.pem"
    path.write_bytes(pem)
    return path


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tvs-cli")
    return {"tvs": write_identity(root, "tvs-node1", 0x21),
            "sast": write_identity(root, "SAST Test", 0x0A1B2C3D, with_key=False),
            "stranger": write_identity(root, "stranger", 0x99, with_key=False)}


class Served:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            banner = self.next_line()
        except queue.Empty:
            banner = ""
        if "listening on" not in banner:
            proc.kill()
            assert proc.stderr is not None
            raise AssertionError(f"tvs serve did not start: {banner}{proc.stderr.read()}")
        self.address = banner.split("listening on ")[1].split()[0]

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 15.0) -> str:
        return self.lines.get(timeout=timeout)


@pytest.fixture(scope="module")
def served(pems: dict[str, Path]) -> Iterator[Served]:
    proc = subprocess.Popen(
        [str(PHONELAB), "tvs", "serve", "--cert", str(pems["tvs"]), "--port", "0",
         "--trust", f"SAST,TFTP={pems['sast']}", "--ttl", "600", "--node", "pub"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield Served(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()


def phonelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONELAB), *args], capture_output=True, text=True, timeout=60)


def test_query_valid_prints_roles_and_ttl(served: Served, pems: dict[str, Path]) -> None:
    done = phonelab("tvs", "query", "--host", served.address, "--tvs-cert", str(pems["tvs"]),
                    "--device", DEVICE, str(pems["sast"]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["status: valid (0)", "roles:  SAST, TFTP", "ttl:    600"]
    line = served.next_line()
    assert line.startswith("verify  valid   CP-7962-SEP001122334455 roles=SAST,TFTP"), line


def test_query_by_name_uses_query(served: Served, pems: dict[str, Path]) -> None:
    done = phonelab("tvs", "query", "--host", served.address, "--tvs-cert", str(pems["tvs"]),
                    "--by-name", str(pems["sast"]))
    assert done.returncode == 0, done.stderr
    assert served.next_line().startswith("query   valid")


def test_query_invalid_exits_1(served: Served, pems: dict[str, Path]) -> None:
    done = phonelab("tvs", "query", "--host", served.address, "--tvs-cert", str(pems["tvs"]),
                    str(pems["stranger"]))
    assert (done.returncode, done.stdout.strip()) == (1, "status: invalid (1)")
    assert "certificate not in the trust store" in served.next_line()


def test_query_exits_2_for_the_wrong_tvs_cert_and_3_when_unreachable(
        served: Served, pems: dict[str, Path]) -> None:
    wrong = phonelab("tvs", "query", "--host", served.address, "--tvs-cert",
                     str(pems["stranger"]), str(pems["sast"]))
    assert wrong.returncode == 2, wrong.stderr  # a user mistake: name the certificate it showed
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert f"not the certificate in {pems['stranger']}" in wrong.stderr
    assert "pass that TVS's certificate with --tvs-cert" in wrong.stderr
    host = served.address.rpartition(":")[0]
    gone = phonelab("tvs", "query", "--host", f"{host}:1", "--tvs-cert", str(pems["tvs"]),
                    "--timeout", "2", str(pems["sast"]))
    assert gone.returncode == 3 and "no TVS server usable" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "--host", "127.0.0.1", "--tvs-cert", "{tvs}", "--device", "SEP1", "{sast}"],
         "--device 'SEP1'"),
        (["query", "--host", "127.0.0.1:http", "--tvs-cert", "{tvs}", "{sast}"], "HOST:PORT"),
        (["query", "--host", "127.0.0.1", "--tvs-cert", "/nonexistent.pem", "{sast}"],
         "cannot read certificate"),
        (["serve", "--cert", "{tvs}", "--port", "0", "--trust", "HTTPS={sast}"], "unknown role"),
        (["serve", "--cert", "{tvs}", "--port", "0", "--trust", "{sast}"], "ROLE[,ROLE]=CERT"),
        (["serve", "--cert", "{sast}", "--port", "0"], "no private key"),
        (["serve", "--cert", "{tvs}", "--port", "0", "--ttl", "0", "--trust", "SAST={sast}"],
         "--ttl 0: expected 1..2592000 seconds"),
    ],
    ids=["bad-device", "bad-port", "missing-file", "unknown-role", "no-role", "no-key", "ttl"],
)
def test_usage_errors_exit_2_without_traceback(pems: dict[str, Path], args: list[str],
                                                message: str) -> None:
    done = phonelab("tvs", *(a.format(tvs=pems["tvs"], sast=pems["sast"]) for a in args))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("phonelab: ") and "Traceback" not in done.stderr
    assert message in " ".join(done.stderr.split())  # the console may wrap long lines


def test_serve_stops_cleanly_on_sigterm(pems: dict[str, Path]) -> None:
    proc = subprocess.Popen([str(PHONELAB), "tvs", "serve", "--cert", str(pems["tvs"]),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        Served(proc)
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
