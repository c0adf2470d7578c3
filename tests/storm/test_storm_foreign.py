"""`phonelab storm` against tftpd-hpa serving files phonelab did not write, and with that
server stopped mid-storm (failures must name that server and the stage)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from storm_foreign import HAVE_TOOLS, build_foreign_cluster, free_udp_port, start_tftpd

PHONELAB = Path(sys.executable).with_name("phonelab")
pytestmark = pytest.mark.skipif(not HAVE_TOOLS, reason="needs in.tftpd (tftpd-hpa) and openssl")
FIRST_MAC = "00AB00000000"


def storm(tmp_path: Path, *args: str, timeout: float = 60) -> tuple[dict[str, Any], str, int]:
    out = tmp_path / "out"
    result = subprocess.run([str(PHONELAB), "storm", "--json", "--no-progress", "--out",
                             str(out), "--first-mac", FIRST_MAC, *args],
                            capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    body, last = result.stdout.rstrip("\n").rsplit("\n", 1)
    summary = json.loads(body)
    assert json.loads((out / "storm.json").read_text()) == summary
    assert (out / "storm.svg").read_text().startswith("<svg")
    return summary, last, result.returncode


def test_storm_boots_every_phone_on_files_built_by_openssl(tmp_path: Path) -> None:
    foreign = build_foreign_cluster(tmp_path, [FIRST_MAC, "00AB00000001"])
    port = free_udp_port()
    server = start_tftpd(foreign.root, port)
    try:
        summary, last, code = storm(tmp_path, "--tftp", f"127.0.0.1:{port}", "--phones", "60",
                                    "--models", "7962,8845")
    finally:
        server.terminate()
        server.wait(5)
    assert code == 0, summary["failures_by_cause"]
    assert summary["ok"] == 60 and summary["failed"] == 0
    assert set(summary["stages"]) == {"ctl", "itl", "config", "defaults"}  # no TVS/HTTPS/SIP
    assert all(row["count"] == 60 for row in summary["stages"].values())
    assert last.startswith("storm phones=60 ok=60 failed=0 wall_s=")
    assert sum(summary["throughput"]["ok"]) == 60


def test_a_config_signed_by_a_stranger_fails_in_the_config_stage(tmp_path: Path) -> None:
    foreign = build_foreign_cluster(tmp_path, [])
    bad = bytearray((foreign.root / "XMLDefault.cnf.xml.sgn").read_bytes())
    bad[-20] ^= 0x01  # one bit of the body: the signature no longer matches
    (foreign.root / "XMLDefault.cnf.xml.sgn").write_bytes(bytes(bad))
    port = free_udp_port()
    server = start_tftpd(foreign.root, port)
    try:
        summary, last, code = storm(tmp_path, "--tftp", f"127.0.0.1:{port}", "--phones", "10")
    finally:
        server.terminate()
        server.wait(5)
    assert code == 1
    assert summary["failures_by_cause"] == {"config: rejected": 10}
    assert summary["failures_by_server"] == {f"127.0.0.1:{port} (config)": 10}
    assert "ITL" not in summary["failure_examples"]["config: rejected"]
    assert last.startswith("storm phones=10 ok=0 failed=10 ")


def test_a_tftp_server_stopped_mid_storm_takes_the_blame(tmp_path: Path) -> None:
    foreign = build_foreign_cluster(tmp_path, [])
    doomed_port = free_udp_port()
    doomed = start_tftpd(foreign.root, doomed_port)
    started = time.monotonic()
    storm_run = subprocess.Popen(
        [str(PHONELAB), "storm", "--json", "--no-progress", "--out", str(tmp_path / "out"),
         "--tftp", f"127.0.0.1:{doomed_port}", "--phones", "80", "--ramp", "3",
         "--timeout", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "out").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # the output directory appears just before the first phone
        time.sleep(1.5)  # half-way along the 3 s ramp
        doomed.kill()
        doomed.wait(5)
        stdout, stderr = storm_run.communicate(timeout=60)
    finally:
        storm_run.kill()
        doomed.kill()
    assert time.monotonic() - started < 45
    summary = json.loads(stdout.rstrip("\n").rsplit("\n", 1)[0])
    assert storm_run.returncode == 1, stderr
    assert 0 < summary["ok"] < 80 and summary["failed"] == 80 - summary["ok"]
    assert set(summary["failures_by_cause"]) <= {
        f"{s}: timeout" for s in ("ctl", "itl", "config", "defaults")}, summary["failure_examples"]
    servers = {key.split(" ")[0] for key in summary["failures_by_server"]}
    assert servers == {f"127.0.0.1:{doomed_port}"}
    assert sum(summary["failures_by_server"].values()) == summary["failed"]
    assert sum(summary["throughput"]["failed"]) == summary["failed"]
