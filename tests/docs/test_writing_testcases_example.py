"""The worked example of docs/writing-testcases.md runs, so the guide cannot rot.

The guide marks one fenced block with `<!-- example: runnable -->` on the line
before it; that block is written into a fresh directory as a testcase module and
run by a nested pytest against the twin, on loopback addresses and lease files
of its own (tests/isolated_lab.py), exactly as a user would run it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.isolated_lab import isolated_twin_lab

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-testcases.md"
MARKER = "<!-- example: runnable -->"
_BLOCK = re.compile(r'^```python title="(?P<path>[^"]+)"\n(?P<body>.*?)^```$',
                    re.MULTILINE | re.DOTALL)


def runnable_example(markdown: str) -> tuple[str, str]:
    """(file path from the block's title, code) of the one block after the marker."""
    if markdown.count(MARKER) != 1:
        raise ValueError(f"the guide must hold exactly one {MARKER!r} marker, "
                         f"found {markdown.count(MARKER)}")
    rest = markdown.split(MARKER, 1)[1].lstrip("\n")
    block = _BLOCK.match(rest)
    if block is None:
        raise ValueError(f'{MARKER!r} must be followed by a ```python title="…" block')
    return block.group("path"), block.group("body")


def test_the_worked_example_passes_on_the_twin(pytester: pytest.Pytester) -> None:
    path, code = runnable_example(GUIDE.read_text())
    name = Path(path).name
    assert path.startswith("testcases/") and name.startswith("test_"), path
    tests = [n.name for n in ast.parse(code).body
             if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert tests, "the worked example defines no test"
    pytester.makepyfile(**{Path(name).stem: code})
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", f"--rootdir={pytester.path}", "-rs",
        "--lab", str(isolated_twin_lab(pytester.path, 79)),
        "--phonelab-lease-dir", str(pytester.path / "leases"),
        "--phonelab-log-dir", str(pytester.path / "logs"), timeout=120)
    result.assert_outcomes(passed=len(tests))


@pytest.mark.parametrize(("markdown", "complaint"), [
    ("no marker at all\n", "exactly one"),
    (f"{MARKER}\n```python\nx = 1\n```\n", "must be followed"),
    (f"{MARKER}\ntext first\n```python title=\"t.py\"\nx = 1\n```\n", "must be followed"),
    (f"{MARKER}\n```python title=\"a.py\"\n```\n{MARKER}\n", "exactly one"),
])
def test_a_guide_without_a_runnable_example_is_refused(markdown: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        runnable_example(markdown)


def test_the_marked_block_is_taken_whole_and_alone() -> None:
    markdown = (f"```python title=\"testcases/test_other.py\"\nnot = 'this'\n```\n{MARKER}\n"
                "```python title=\"testcases/test_mine.py\"\ndef test_a():\n    pass\n```\n"
                "```python\nnor = 'this'\n```\n")
    assert runnable_example(markdown) == ("testcases/test_mine.py",
                                          "def test_a():\n    pass\n")
