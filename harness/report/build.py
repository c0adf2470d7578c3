"""Generate the sign-off report from Allure results: fresh every run, one file and a site.

Why a builder instead of a bare `allure generate`: Allure 3 writes into an existing
output folder beside what is there (a second run landed in `awesome/` and the old
report stayed at the printed path), its site does not open from `file://`, it
ignores the Allure 2 `categories.json`, and its title is generic. This module
clears the output, writes an Allure 3 configuration (title naming lab, racks,
release, firmware and commit; categories that tell lab errors from product
failures; a history file kept across runs for the trend charts) and generates
twice: the multi-file site and a single self-contained `index.html` that opens
from disk. The run-level summary (phones × procedures, `harness.report.summary`) is
a global attachment of both (the report's "Global Attachments" tab) and
`phones-by-procedure.html` beside `index.html`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import LabError, UsageError
from harness.report import summary

ROOT = Path(__file__).resolve().parents[2]
ALLURE = ROOT / "tools" / "allure" / "node_modules" / ".bin" / "allure"
GENERATE_TIMEOUT = 300.0
SUMMARY = "phones-by-procedure.html"  # the run summary, beside index.html
CATEGORIES = [
    {"name": "Lab errors (infrastructure, not the phone)",
     "matchers": [{"statuses": ["broken", "failed", "skipped"],
                   "message": r"LabError|RackBroken|lab error|rack .* out of service"},
                  {"statuses": ["broken"], "trace": r"harness\.errors\.(LabError|RackBroken)"}]},
    {"name": "Product failures", "matchers": {"statuses": ["failed"]}},
    {"name": "Harness errors", "matchers": {"statuses": ["broken"]}},
]


@dataclass(frozen=True)
class Report:
    site: Path  # multi-file site (serve it over HTTP)
    single_file: Path  # one self-contained HTML file: opens from disk
    title: str
    summary: Path  # phones × procedures, also attached to the report


def read_environment(results: Path) -> dict[str, str]:
    """environment.properties written by the plugin at session end (empty if absent)."""
    path = results / "environment.properties"
    facts: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                facts[key.strip()] = value.strip()
    return facts


def git_commit(where: Path = ROOT) -> str:
    """The commit under test (PHONELAB_COMMIT wins; "unknown" outside a checkout)."""
    if os.environ.get("PHONELAB_COMMIT"):
        return os.environ["PHONELAB_COMMIT"]
    try:
        done = subprocess.run(["git", "-C", str(where), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def title(facts: dict[str, str], commit: str) -> str:
    """`phonelab sign-off: lab twin (rack1), CUCM 8.0, firmware …, commit abc1234`."""
    lab = facts.get("lab", "?")
    racks = facts.get("racks", "?")
    per_model = [f"{key.split('.', 1)[1]} {value}" for key, value in sorted(facts.items())
                 if key.startswith("firmware.")]
    firmware = ", ".join(per_model) or facts.get("phone.firmware") or "as installed"
    return (f"phonelab sign-off: lab {lab} ({racks}), CUCM {facts.get('cucm.release', '?')}, "
            f"firmware {firmware}, commit {commit}")


def build(results: Path, out: Path, *, history: Path | None = None,
          allure: Path = ALLURE) -> Report:
    """Clear `out`, then write `out/site/` and `out/index.html` from `results`."""
    results, out = results.resolve(), out.resolve()  # allure runs in a scratch directory
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise UsageError(f"{results}: no Allure results there (run pytest with --alluredir)")
    if not allure.exists():
        raise LabError(f"the Allure CLI is missing ({allure}); run scripts/setup.sh")
    facts = read_environment(results)
    name = title(facts, git_commit())
    history = (history or out.parent / "allure-history.jsonl").resolve()
    history.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    site = out / "site"
    matrix = summary.write(results, out / SUMMARY, name)
    _generate(allure, results, site, name, history, matrix, single=False, append=True)
    with tempfile.TemporaryDirectory(prefix="phonelab-report-") as scratch:
        single_dir = Path(scratch) / "single"
        _generate(allure, results, single_dir, name, history, matrix, single=True,
                  append=False)
        page = next(iter(sorted(single_dir.rglob("index.html"))), None)
        if page is None:
            raise LabError("Allure wrote no single-file index.html")
        shutil.copyfile(page, out / "index.html")
    return Report(site, out / "index.html", name, matrix)


def _generate(allure: Path, results: Path, output: Path, name: str, history: Path,
              matrix: Path, *, single: bool, append: bool) -> None:
    config = {
        "name": name,
        "output": str(output),
        "historyPath": str(history),
        "appendHistory": append,
        "categories": CATEGORIES,
        "globalAttachments": [str(matrix)],
        "plugins": {"awesome": {"options": {"singleFile": single, "reportName": name,
                                            "groupBy": ["parentSuite", "suite", "subSuite"]}}},
    }
    with tempfile.TemporaryDirectory(prefix="phonelab-allurerc-") as scratch:
        rc = Path(scratch) / "allurerc.json"
        rc.write_text(json.dumps(config), encoding="utf-8")
        try:
            done = subprocess.run([str(allure), "generate", str(results), "--config", str(rc)],
                                  capture_output=True, text=True, timeout=GENERATE_TIMEOUT,
                                  cwd=scratch)
        except subprocess.TimeoutExpired:
            raise LabError(f"allure generate took over {GENERATE_TIMEOUT:g} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise LabError(f"allure generate failed: {' / '.join(tail)}")
