"""Messages a user reads name a file of docs/ and what to do, never a bare section number
(`§4.4` means nothing on a terminal): every string in the code that is not a docstring
or a comment is checked."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "phone_drivers", "lab_topology", "fixtures")


def section_numbers(source: str, name: str = "<string>") -> list[str]:
    """`file:line: text` of every non-docstring string constant holding `§`."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [f"{name}:{node.lineno}: {node.value.strip()[:80]}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and "§" in node.value and id(node) not in docstrings]


def test_no_message_cites_a_section_number() -> None:
    found = [hit for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             for hit in section_numbers(path.read_text(encoding="utf-8"),
                                        str(path.relative_to(ROOT)))]
    assert found == []


def test_the_check_sees_messages_and_spares_docstrings_and_comments() -> None:
    source = '''
"""Module docstring citing docs/PROTOCOLS.md §4.4 is fine."""
def f():
    """So is a function's (§1)."""
    x = 1  # and a comment (§2)
    raise ValueError("bad thing (see §4.4)")
'''
    assert section_numbers(source) == ["<string>:6: bad thing (see §4.4)"]
