"""README and docs say what is true: the command blocks marked `<!-- runnable -->` run as
written, and every path of this project they cite exists."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = "<!-- runnable -->"
BLOCK = re.compile(r"<!-- runnable -->\s*\n```(?:sh|bash)\n(.*?)\n```", re.S)
# a path of this project: starts with one of its top-level folders
CITED = re.compile(r"(?<![\w/.~-])((?:docs|harness|fixtures|phone_drivers|lab_topology|testcases|"
                   r"tests|scripts|benchmarks|tools|racks|\.ci)/[\w./+-]*[\w/])")
LINK = re.compile(r"\]\(([^)#\s]+)")
# cited on purpose although not here: other projects' files named as sources, and the
# file the testcase guide has the reader create
ELSEWHERE = {
    "tests/cisco_ios/show_power_inline/": "ntc-templates' test data (a source of HARDWARE.md)",
    "docs/development/creating_nos_plugin.md": "fakenos' docs (a source of HARDWARE.md)",
    "docs/src/content/docs": "usecallmanager-daemons' docs (a source of PROTOCOLS.md)",
    "docs/src/content/docs/": "usecallmanager-daemons' docs (a source of PROTOCOLS.md)",
    "tools/SkinnyProtocolOptimized.xml": "wireshark's file (a source of REAL_WIRE.md)",
    "testcases/test_my_first.py": "the file the testcase guide has the reader write",
}


def runnable_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def missing_paths(document: Path) -> list[str]:
    """`file:line: path` for each cited project path (or relative link) that does not
    exist; placeholders (`<lab>`, `*`, `…`) are not paths."""
    text = document.read_text(encoding="utf-8")
    found = []
    for match in CITED.finditer(text):
        path = match.group(1)
        if any(c in path for c in "<>*…") or path in ELSEWHERE:
            continue
        if not ((ROOT / path).exists() or (document.parent / path).exists()):
            found.append(f"{document.name}:{text.count(chr(10), 0, match.start()) + 1}: {path}")
    for match in LINK.finditer(text):
        target = match.group(1)
        if not target.startswith(("http:", "https:", "mailto:")) and \
                not (document.parent / target).exists():
            found.append(f"{document.name}: link {target}")
    return found


README_BLOCKS = runnable_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
ALL_BLOCKS = [(doc.name, i, block) for doc in DOCUMENTS
              for i, block in enumerate(runnable_blocks(doc.read_text(encoding="utf-8")))]


def test_readme_marks_its_quick_safe_blocks() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(README_BLOCKS) >= 2
    assert readme.count(MARKER) == len(README_BLOCKS), "a marker not followed by a sh block"


@pytest.mark.parametrize(("document", "index", "block"), ALL_BLOCKS,
                         ids=[f"{d}-{i}" for d, i, _ in ALL_BLOCKS])
def test_runnable_block_runs_as_written(document: str, index: int, block: str,
                                       tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
           "PHONELAB_DATA": str(tmp_path / "data"), "PHONELAB_RUN_DIR": str(tmp_path / "run")}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{document} block {index}:\n{block}\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_cited_paths_exist(document: Path) -> None:
    assert missing_paths(document) == []


def test_the_path_check_finds_a_wrong_path(tmp_path: Path) -> None:
    doc = tmp_path / "GUIDE.md"
    doc.write_text("Run `pytest --lab racks/lab3.yaml`; see [the guide](nowhere.md) and\n"
                   "`lab_topology/rack-example.yaml`, `docs/<FILE>.md`.\n")
    assert missing_paths(doc) == ["GUIDE.md:1: racks/lab3.yaml", "GUIDE.md: link nowhere.md"]


def test_a_failing_block_fails() -> None:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c",
                           runnable_blocks(f"{MARKER}\n```sh\nfalse\necho not reached\n```")[0]],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and done.stdout == ""
