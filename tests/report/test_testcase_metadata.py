"""Every lab scenario carries what the sign-off report shows about it: a severity, an
English title (not a Python name) and a description of what it proves."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTCASES = sorted((ROOT / "testcases").glob("test_*.py"))
SEVERITIES = {"blocker", "critical", "normal", "minor", "trivial"}

# "docs/PROTOCOLS.md §7.4, §7.8" (a list after a file) is fine; a bare "§7.4" is not
CITED = re.compile(r"\.md\s+§[\d.]+(?:(?:,\s+|\s+and\s+|-)§[\d.]+)*")


def load(path: Path) -> ModuleType:
    name = f"testcases.{path.stem}" if path.parent == ROOT / "testcases" else path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _marks(owner: object) -> list[pytest.Mark]:
    marks = getattr(owner, "pytestmark", [])
    marks = marks if isinstance(marks, list) else [marks]
    return [m.mark if isinstance(m, pytest.MarkDecorator) else m for m in marks]


def severity(module: ModuleType, function: object) -> str | None:
    for mark in _marks(function) + _marks(module):  # the function's own wins
        if mark.name == "allure_label" and mark.kwargs.get("label_type") == "severity":
            level = mark.args[0]
            return str(getattr(level, "value", level))
    return None


def english(title: str | None) -> bool:
    """Words with spaces and a capital first letter; no `snake_case` name left in it."""
    return bool(title) and " " in title and title[0].isupper() and not re.search(
        r"\b(test_|[a-z0-9]+_[a-z0-9_]+\b)", title or "")


def problems(module: ModuleType, *, sections: bool = False) -> list[str]:
    """What the report would be missing for each scenario of `module`; with `sections`,
    descriptions that cite a bare section number (a reader needs the docs file)."""
    found = []
    for name, function in vars(module).items():
        if not name.startswith("test_") or not callable(function):
            continue
        title = getattr(function, "__allure_display_name__", None)
        if not english(title):
            found.append(f"{name}: no English @allure.title (has {title!r})")
        if severity(module, function) not in SEVERITIES:
            found.append(f"{name}: no @allure.severity")
        doc = (function.__doc__ or "").strip()
        if len(doc.split()) < 6:
            found.append(f"{name}: no docstring saying what it proves (the description)")
        elif sections and "§" in CITED.sub("", doc):
            found.append(f"{name}: description cites a section number; name the docs file")
    return found


@pytest.mark.parametrize("path", TESTCASES, ids=[p.stem for p in TESTCASES])
def test_every_scenario_has_severity_title_and_description(path: Path) -> None:
    assert problems(load(path)) == []


@pytest.mark.parametrize("path", TESTCASES, ids=[p.stem for p in TESTCASES])
def test_descriptions_name_docs_files_not_bare_sections(path: Path) -> None:
    """`(§7.4)` in the report means nothing to its reader; `docs/PROTOCOLS.md §7.4` does."""
    assert [p for p in problems(load(path), sections=True) if "section" in p] == []


def test_there_are_scenarios_to_check() -> None:
    assert len(TESTCASES) >= 10
    assert sum(1 for p in TESTCASES for n in vars(load(p)) if n.startswith("test_")) >= 30


BARE = '''
import allure
import pytest

pytestmark = allure.feature("Example")


def test_no_metadata_at_all(lab):
    assert lab


@allure.title("test_python_name_as_title")
@allure.severity(allure.severity_level.NORMAL)
def test_python_title(lab):
    """A description long enough to say what it proves."""


@allure.title("A good English title")
def test_no_severity_but_section_cited(lab):
    """See §4.4 of the guide, which says what this proves (docs/GUIDE.md §4.4 is fine)."""


@allure.title("A good English title")
@allure.severity(allure.severity_level.MINOR)
def test_complete(lab):
    """A description long enough to say what it proves."""
'''


def test_the_check_names_each_missing_piece(tmp_path: Path) -> None:
    path = tmp_path / "bare_scenarios.py"
    path.write_text(BARE)
    found = problems(load(path), sections=True)
    assert found == [
        "test_no_metadata_at_all: no English @allure.title (has None)",
        "test_no_metadata_at_all: no @allure.severity",
        "test_no_metadata_at_all: no docstring saying what it proves (the description)",
        "test_python_title: no English @allure.title (has 'test_python_name_as_title')",
        "test_no_severity_but_section_cited: no @allure.severity",
        "test_no_severity_but_section_cited: description cites a section number; "
        "name the docs file",
    ]


def test_module_severity_covers_its_scenarios() -> None:
    upgrade = load(ROOT / "testcases" / "test_upgrade_from_7x.py")
    assert severity(upgrade, upgrade.test_non_secure_upgrade_phones_take_their_first_itl) == (
        "critical")


def test_the_guides_worked_example_follows_the_rule(tmp_path: Path) -> None:
    """docs/writing-testcases.md teaches by example: its example passes the same check."""
    from tests.docs.test_writing_testcases_example import GUIDE, runnable_example

    _, code = runnable_example(GUIDE.read_text())
    path = tmp_path / "guide_example.py"
    path.write_text(code)
    assert problems(load(path)) == []
