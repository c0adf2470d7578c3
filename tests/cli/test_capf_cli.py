"""`phonelab capf serve` and `phonelab capf enroll` as real processes: output and exit codes."""

from __future__ import annotations

import datetime
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from harness.cli.capf_cmd import app, parse_device

PHONELAB = str(Path(sys.executable).with_name("phonelab"))
PHONE, OTHER = "SEP001122334455", "SEPAABBCCDDEEFF"


Pair = tuple[x509.Certificate, rsa.RSAPrivateKey]


def write_identity(path: Path, cn: str, issuer: Pair | None = None, *, ca: bool = False) -> Pair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .sign(issuer[1] if issuer else key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert, key


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("capf-cli")
    paths = {name: root / f"{name}.pem" for name in ("capf", "mfg", "mic")}
    write_identity(paths["capf"], "CAPF-cli", ca=True)
    mfg = write_identity(paths["mfg"], "Manufacturing CA", ca=True)
    write_identity(paths["mic"], f"CP-8865-{OTHER}", mfg)
    return paths


@pytest.fixture(scope="module")
def server(pems: dict[str, Path]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [PHONELAB, "capf", "serve", "--cert", str(pems["capf"]), "--port", "0",
         "--verify-ca", str(pems["mfg"]), "--timeout", "2",
         "--device", f"{PHONE}:install:password=1234:key=1024",
         "--device", f"{OTHER}:none:certificate"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("CAPF listening on 127.0.0.1:"), line + proc.stderr.read()  # type: ignore[union-attr]
    yield line.split()[3], proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def phonelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PHONELAB, "capf", *args], capture_output=True, text=True, timeout=30)


def enroll(address: str, pems: dict[str, Path], device: str, out: Path,
           *extra: str) -> subprocess.CompletedProcess[str]:
    return phonelab("enroll", "--host", address, "--capf-cert", str(pems["capf"]),
                    "--device", device, "-o", str(out), *extra)


def test_enroll_and_serve_end_to_end(server: tuple[str, subprocess.Popen[str]],
                                     pems: dict[str, Path], tmp_path: Path) -> None:
    address, proc = server
    out = tmp_path / "lsc.pem"
    wrong = enroll(address, pems, PHONE, out, "--password", "9999")
    assert wrong.returncode == 1 and "invalid element" in wrong.stderr and not out.exists()
    done = enroll(address, pems, PHONE, out, "--password", "1234")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lsc = x509.load_pem_x509_certificate(out.read_bytes())
    assert lsc.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == PHONE
    key = serialization.load_pem_private_key(out.read_bytes(), None)
    assert key.public_key() == lsc.public_key()
    by_mic = enroll(address, pems, OTHER, out, "--mic", str(pems["mic"]))
    assert by_mic.returncode == 0 and "no action" in by_mic.stdout, by_mic.stderr
    unknown = enroll(address, pems, "SEP0000000000FF", out)
    assert unknown.returncode == 1 and "unknown device" in unknown.stderr
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    sessions = [line for line in stdout.splitlines() if "capf.session" in line]
    assert len(sessions) == 4 and "result=installed" in "".join(sessions)


def test_enroll_unreachable_is_exit_3(pems: dict[str, Path], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = enroll(f"127.0.0.1:{port}", pems, PHONE, tmp_path / "x.pem", "--timeout", "2")
    assert result.returncode == 3 and "no CAPF server reachable" in result.stderr


def test_bad_device_syntax_is_one_line_exit_2(pems: dict[str, Path]) -> None:
    spec = f"{PHONE}:install:password=12:key=1024:and-a-long-tail-so-rich-would-wrap-it"
    result = phonelab("serve", "--cert", str(pems["capf"]), "--port", "0", "--device", spec)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "phonelab:" in result.stderr


# in-process for the many usage variants (each subprocess costs ~0.5 s of imports)
@pytest.mark.parametrize("spec", [f"{PHONE}:renew", f"{PHONE}:install:password=", "SEP12:none",
                                  f"{PHONE}:install:key=abc", PHONE, f"{PHONE}:none:curve=p999",
                                  f"{PHONE}:install:password=12"])
def test_device_spec_errors(pems: dict[str, Path], spec: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--cert", str(pems["capf"]), "--port", "0",
                                      "--device", spec])
    assert result.exit_code == 2, result.output
    assert "phonelab: " in result.output and "device" in result.output


def test_device_spec_grammar() -> None:
    record = parse_device(f"{PHONE.lower()}:install:password=123456:curve=secp384r1")
    assert (record.name, record.operation, record.auth) == (PHONE, "install", "password")
    assert (record.password, record.curve) == ("123456", "secp384r1")
    assert parse_device(f"{PHONE}:fetch:certificate").auth == "certificate"
    assert parse_device(f"{PHONE}:delete:null:key=4096").key_size == 4096


def test_enroll_usage_errors(pems: dict[str, Path], tmp_path: Path) -> None:
    base = ["enroll", "--capf-cert", str(pems["capf"]), "-o", str(tmp_path / "x.pem")]
    for extra in (["--host", "h:1", "--device", "phone-1"],
                  ["--host", "h:99999", "--device", PHONE],
                  ["--host", "h:1", "--device", PHONE, "--lsc", str(tmp_path / "missing.pem")]):
        assert CliRunner().invoke(app, base + extra).exit_code == 2
