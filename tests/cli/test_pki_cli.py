"""`phonelab pki` through the real console script: output, exit codes, one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.pki_cmd import _passphrase
from harness.errors import UsageError
from harness.pki import CertRole, LabPKI

PHONELAB = Path(sys.executable).with_name("phonelab")
SECRET = "lab backup passphrase"


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PHONELAB), *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def assert_usage_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    """Exit 2 with exactly one `phonelab: ...` line on stderr, never a traceback."""
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phonelab: "), result.stderr
    assert text in lines[0]


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "lab"
    result = run(
        "pki", "init", root, "--node", "cucm1.lab", "--node", "cucm2.lab=127.0.1.9",
        "--key-type", "ec", "--key-size", "1024",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def lab(lab_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lab"
    shutil.copytree(lab_dir, copy)
    return copy


def test_init_and_show_print_every_certificate(lab_dir: Path) -> None:
    pki = LabPKI.load(lab_dir)
    assert pki.address("cucm2.lab") == "127.0.1.9"
    shown = run("pki", "show", lab_dir)
    assert shown.returncode == 0, shown.stderr
    for role, node in pki.slots():
        ident = pki.identity(role, node)
        assert f"{ident.serial:x}" in shown.stdout
        assert ident.fingerprint_sha1 in shown.stdout
    assert "CN=CAPF-cucm1.lab;OU=capf;O=phonelab Lab" in shown.stdout
    assert "EC-secp256r1" in shown.stdout and "RSA-1024" in shown.stdout
    assert "127.0.1.9" in shown.stdout


def test_init_refuses_an_existing_pki(lab_dir: Path) -> None:
    assert_usage_error(run("pki", "init", lab_dir, "--node", "x.lab"), "already holds a lab PKI")


def test_show_of_a_plain_directory(tmp_path: Path) -> None:
    assert_usage_error(run("pki", "show", tmp_path), "is not a lab PKI")


def test_regenerate_prints_old_and_new_serial(lab: Path) -> None:
    old = LabPKI.load(lab).identity(CertRole.tvs, "cucm2.lab").serial
    result = run("pki", "regenerate", "tvs", "--node", "cucm2.lab", "--dir", lab)
    assert result.returncode == 0, result.stderr
    new = LabPKI.load(lab).identity(CertRole.tvs, "cucm2.lab").serial
    assert new != old
    assert f"tvs of cucm2.lab: old serial {old:x}" in result.stdout
    assert f"tvs of cucm2.lab: new serial {new:x}" in result.stdout


def test_regenerate_without_node(lab_dir: Path) -> None:
    result = run("pki", "regenerate", "tftp", "--dir", lab_dir)
    assert_usage_error(result, "tftp is per node: name one of cucm1.lab, cucm2.lab")


@pytest.fixture(scope="module")
def backup_file(lab_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of `lab_dir` made by the CLI; every copy (`lab`) can restore it."""
    path = tmp_path_factory.mktemp("cli-backup") / "cluster.bak"
    made = run("pki", "backup", "--dir", lab_dir, "-o", path, "--passphrase-env", "PL_PASS",
               env={"PL_PASS": SECRET})  # fmt: skip
    assert made.returncode == 0, made.stderr
    serial = LabPKI.load(lab_dir).identity(CertRole.tftp, "cucm1.lab").serial
    assert f"saved tftp of cucm1.lab serial {serial:x}" in made.stdout
    assert path.stat().st_mode & 0o777 == 0o600
    return path


def test_forget_then_restore(lab: Path, backup_file: Path, tmp_path: Path) -> None:
    original = LabPKI.load(lab).identity(CertRole.tftp, "cucm1.lab")
    forgot = run("pki", "forget", "tftp", "--node", "cucm1.lab", "--dir", lab)
    assert forgot.returncode == 0, forgot.stderr
    assert not LabPKI.load(lab).has(CertRole.tftp, "cucm1.lab")
    secret_file = tmp_path / "pass.txt"
    secret_file.write_text(SECRET + "\n")
    restored = run("pki", "restore", backup_file, "--dir", lab, "--passphrase-file", secret_file)
    assert restored.returncode == 0, restored.stderr
    assert f"restored tftp of cucm1.lab serial {original.serial:x}" in restored.stdout
    assert LabPKI.load(lab).identity(CertRole.tftp, "cucm1.lab") == original


def test_wrong_passphrase_changes_nothing(lab: Path, backup_file: Path) -> None:
    LabPKI.load(lab).forget(CertRole.tftp, "cucm2.lab")
    env = {"PL_WRONG": "guess"}
    restore: list[str | Path] = ["pki", "restore", "--dir", lab, "--passphrase-env", "PL_WRONG"]
    assert_usage_error(run(*restore, backup_file, env=env), "wrong passphrase")
    assert not LabPKI.load(lab).has(CertRole.tftp, "cucm2.lab")


def test_passphrase_never_on_the_command_line(lab_dir: Path, tmp_path: Path) -> None:
    out: list[str | Path] = ["pki", "backup", "--dir", lab_dir, "-o", tmp_path / "x.bak"]
    assert_usage_error(run(*out), "no passphrase")  # stdin is not a terminal: no prompt
    assert run(*out, "--passphrase", "hunter2").returncode == 2  # no such option
    assert not (tmp_path / "x.bak").exists()


def test_passphrase_file_and_env_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\r\nignored second line\n")
    assert _passphrase(None, secret, confirm=False) == "s3cret"
    monkeypatch.delenv("PL_UNSET_VAR", raising=False)
    with pytest.raises(UsageError, match="PL_UNSET_VAR is not set"):
        _passphrase("PL_UNSET_VAR", None, confirm=True)
    monkeypatch.setenv("PL_PASS", "from env")
    assert _passphrase("PL_PASS", None, confirm=False) == "from env"
    with pytest.raises(UsageError, match="not both"):
        _passphrase("PL_PASS", secret, confirm=False)
    secret.write_text("")
    with pytest.raises(UsageError, match="no UTF-8 passphrase"):
        _passphrase(None, secret, confirm=False)
    monkeypatch.setenv("PL_PASS", "")
    with pytest.raises(UsageError, match="must not be empty"):
        _passphrase("PL_PASS", None, confirm=False)
