"""`phonelab tlv|sgn|enc`: exit codes, one-line errors, JSON shape, exact outputs.

Exit-code contracts are checked through the real console script (subprocess);
the other cases call `harness.cli.main.main` in-process, the same code path
without the interpreter start-up (about 0.8 s per run).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from harness.cli.main import main

PHONELAB = Path(sys.executable).parent / "phonelab"
CNF = (
    b'<?xml version="1.0"?>\n<device><fullConfig>true</fullConfig>'
    b"<capfAuthMode>0</capfAuthMode><userPassword>secret</userPassword></device>\n"
)
ITL = [
    "tlv", "build", "-o", "ITLFile.tlv", "--signer", "sast.pem", "--record", "sast=sast.pem",
    "--record", "CCM+TFTP=tftp.pem", "--record", "Tvs=tvs.pem", "--record", "capf=phone.pem",
]
PEM = serialization.Encoding.PEM
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Result:
    code: int
    out: str
    err: str


Invoke = Callable[..., Result]


def write_identity(path: Path, cn: str, serial: int, key: Key, with_key: bool = True) -> None:
    """Self-signed `CN=<cn>,O=Lab` certificate, followed by its key unless told not to."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab"),
        ]
    )
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name)
    builder = builder.public_key(key.public_key()).serial_number(serial)
    builder = builder.not_valid_before(start).not_valid_after(start + datetime.timedelta(days=9))
    pem = builder.sign(key, hashes.SHA256()).public_bytes(PEM)
    if with_key:
        pem += private_pem(key)
    path.write_bytes(pem)


def private_pem(key: Key) -> bytes:
    plain = serialization.NoEncryption()
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, plain)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PEMs: sast, tftp (also split into cert and key), phone, stranger, EC tvs; a config."""
    root = tmp_path_factory.mktemp("formats_cli")
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4)]
    write_identity(root / "sast.pem", "SAST", 0x0A1B2C3D, keys[0])
    write_identity(root / "tftp.pem", "tftp.lab", 0x1234, keys[1])
    write_identity(root / "tftp_cert.pem", "tftp.lab", 0x1234, keys[1], with_key=False)
    (root / "tftp_key.pem").write_bytes(private_pem(keys[1]))
    write_identity(root / "phone.pem", "SEP001122334455", 0x77, keys[2])
    write_identity(root / "stranger.pem", "SAST", 0x0A1B2C3D, keys[3])
    write_identity(root / "tvs.pem", "tvs.lab", 0xEC, ec.generate_private_key(ec.SECP256R1()))
    (root / "SEP001122334455.cnf.xml").write_bytes(CNF)
    return root


def run(lab: Path, *args: str) -> Result:
    """The installed console script, run inside `lab` with relative paths."""
    done = subprocess.run(
        [str(PHONELAB), *args], cwd=lab, capture_output=True, text=True, timeout=60, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def call(
    lab: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Invoke:
    """`main()` in-process, inside `lab`, with the console script's exit-code mapping."""
    monkeypatch.chdir(lab)

    def invoke(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["phonelab", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def one_line_error(result: Result, code: int = 2) -> str:
    """Assert exit `code` with exactly one `phonelab: ...` line on stderr, no traceback."""
    assert result.code == code, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phonelab: "), result.err
    return lines[0]


def test_tlv_build_then_show_json(lab: Path) -> None:
    built = run(lab, *ITL, "--digest", "sha512", "--version", "1.1")
    assert built.code == 0 and built.err == "", built
    shown = run(lab, "tlv", "show", "ITLFile.tlv", "--json")
    assert shown.code == 0, shown
    info = json.loads(shown.out)
    assert info["signature_valid"] is True and info["digest"] == "sha512"
    assert info["signer_version"] == "1.1" and info["version"] == "1.2"
    assert info["filename"] == "ITLFile.tlv" and info["rollback"] is False
    signer = {"subject": "CN=SAST,O=Lab", "issuer": "CN=SAST,O=Lab", "serial": "a1b2c3d"}
    assert info["signer"] == signer
    assert [r["role"] for r in info["records"]] == ["SAST", "CCM+TFTP", "TVS", "CAPF"]
    tvs_cert = x509.load_pem_x509_certificate((lab / "tvs.pem").read_bytes())
    tvs = info["records"][2]
    der = tvs_cert.public_bytes(serialization.Encoding.DER)
    assert tvs["sha1"] == hashlib.sha1(der).hexdigest()
    assert (tvs["serial"], tvs["key"], tvs["subject"]) == ("ec", "EC-secp256r1", "CN=tvs.lab,O=Lab")


def test_tlv_show_exit_codes(lab: Path) -> None:
    assert run(lab, *ITL).code == 0
    data = bytearray((lab / "ITLFile.tlv").read_bytes())
    data[-5] ^= 0xFF
    (lab / "tampered.tlv").write_bytes(bytes(data))
    (lab / "short.tlv").write_bytes(bytes(data[:600]))
    tampered = run(lab, "tlv", "show", "tampered.tlv", "--json")
    assert tampered.code == 1 and json.loads(tampered.out)["signature_valid"] is False
    assert "offset" in one_line_error(run(lab, "tlv", "show", "short.tlv"))
    assert "offset 0" in one_line_error(run(lab, "tlv", "show", "sast.pem"))
    assert "cannot read" in one_line_error(run(lab, "tlv", "show", "missing.tlv"))
    assert "unknown role" in one_line_error(run(lab, *ITL, "--record", "bogus=sast.pem"))


def test_tlv_show_human_table(call: Invoke) -> None:
    assert call(*ITL).code == 0
    shown = call("tlv", "show", "ITLFile.tlv")
    assert shown.code == 0
    for text in ("CCM+TFTP", "CN=tftp.lab,O=Lab", "a1b2c3d", "RSA-2048", "signer is record #0"):
        assert text in shown.out


def test_tlv_build_options(call: Invoke) -> None:
    split = call("tlv", "build", "-o", "CTLFile.tlv", "--signer", "tftp_cert.pem",
                 "--key", "tftp_key.pem", "--record", "ccm+tftp=tftp_cert.pem",
                 "--record", "4242=phone.pem")
    assert split.code == 0 and "not a SAST record" in split.err
    shown = call("tlv", "show", "CTLFile.tlv", "--json")
    assert shown.code == 1  # built as asked, but nothing can verify it
    info = json.loads(shown.out)
    assert info["filename"] == "CTLFile.tlv" and info["signature_valid"] is False
    assert [r["role"] for r in info["records"]] == ["CCM+TFTP", 4242]
    base = ["tlv", "build", "-o", "x.tlv", "--record", "sast=sast.pem"]
    assert "does not match" in one_line_error(call(*base, "--signer", "sast.pem", "--key",
                                                   "tftp.pem"))
    assert "no private key" in one_line_error(call(*base, "--signer", "tftp_cert.pem"))
    assert "--digest" in one_line_error(call(*base, "--signer", "sast.pem", "--digest", "md5"))
    assert "--version" in one_line_error(call(*base, "--signer", "sast.pem", "--version", "2.0"))
    assert "ROLE=CERT" in one_line_error(call(*base, "--signer", "sast.pem", "--record", "sast"))
    assert "RSA" in one_line_error(call(*base, "--signer", "tvs.pem"))
    assert "cannot write" in one_line_error(
        call("tlv", "build", "-o", "no/such/dir.tlv", "--signer", "sast.pem", "--record",
             "sast=sast.pem")
    )


def test_sgn_sign_verify_strip(lab: Path, call: Invoke) -> None:
    signed = call("sgn", "sign", "SEP001122334455.cnf.xml", "--signer", "tftp.pem",
                  "--digest", "sha512", "-o", "SEP001122334455.cnf.xml.sgn")
    assert signed.code == 0, signed
    assert call("sgn", "verify", "SEP001122334455.cnf.xml.sgn", "--cert", "tftp_cert.pem").code == 0
    wrong = call("sgn", "verify", "SEP001122334455.cnf.xml.sgn", "--cert", "sast.pem")
    assert "does NOT verify" in one_line_error(wrong, 1)
    assert call("sgn", "strip", "SEP001122334455.cnf.xml.sgn", "-o", "plain.xml").code == 0
    assert (lab / "plain.xml").read_bytes() == CNF
    assert "offset" in one_line_error(call("sgn", "verify", "phone.pem", "--cert", "tftp.pem"))
    assert "offset" in one_line_error(call("sgn", "strip", "phone.pem", "-o", "x"))


def test_sgn_verify_exit_codes_via_console_script(lab: Path) -> None:
    assert run(lab, "sgn", "sign", "SEP001122334455.cnf.xml", "--signer", "tftp.pem",
               "-o", "c.sgn").code == 0
    assert run(lab, "sgn", "verify", "c.sgn", "--cert", "tftp.pem").code == 0
    assert run(lab, "sgn", "verify", "c.sgn", "--cert", "stranger.pem").code == 1
    assert run(lab, "sgn", "verify", "SEP001122334455.cnf.xml", "--cert", "tftp.pem").code == 2


def test_enc_encrypt_decrypt_exact_bytes(lab: Path) -> None:
    made = run(lab, "enc", "encrypt", "SEP001122334455.cnf.xml", "--phone-cert", "phone.pem",
               "--signer", "tftp.pem", "-o", "SEP001122334455.cnf.xml.enc.sgn",
               "--stub", "SEP001122334455.cnf.xml.sgn")
    assert made.code == 0, made
    opened = run(lab, "enc", "decrypt", "SEP001122334455.cnf.xml.enc.sgn", "--key", "phone.pem",
                 "--cert", "tftp.pem", "-o", "clear.xml")
    assert opened.code == 0, opened
    assert (lab / "clear.xml").read_bytes() == CNF
    wrong = run(lab, "enc", "decrypt", "SEP001122334455.cnf.xml.enc.sgn", "--key", "sast.pem",
                "-o", "bad.xml")
    assert "decryption failed" in one_line_error(wrong, 1) and not (lab / "bad.xml").exists()


def test_enc_failures_and_stub(lab: Path, call: Invoke) -> None:
    args = ["enc", "encrypt", "SEP001122334455.cnf.xml", "--signer", "tftp.pem"]
    made = call(*args, "--phone-cert", "phone.pem", "-o", "e.enc.sgn", "--stub", "e.sgn")
    assert made.code == 0
    assert call("sgn", "verify", "e.sgn", "--cert", "tftp.pem").code == 0
    stub = (lab / "e.sgn").read_bytes()
    assert b"<encrConfig>true</encrConfig>" in stub and b"secret" not in stub
    decrypt = ["enc", "decrypt", "e.enc.sgn", "--key", "phone.pem", "-o", "out.xml"]
    assert "signature" in one_line_error(call(*decrypt, "--cert", "sast.pem"), 1)
    data = bytearray((lab / "e.enc.sgn").read_bytes())
    data[-1] ^= 0x01
    (lab / "e.enc.sgn").write_bytes(bytes(data))
    assert "digest" in one_line_error(call(*decrypt), 1)
    assert "RSA device" in one_line_error(call(*args, "--phone-cert", "tvs.pem", "-o", "x"))
    assert "no encryption block" in one_line_error(call("enc", "decrypt", "e.sgn", "--key",
                                                        "phone.pem", "-o", "y"))
