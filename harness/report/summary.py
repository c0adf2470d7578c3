"""The run at a glance: a phones × procedures matrix, pass or fail per cell.

Built from the run's Allure results only (no second source of truth): each
scenario's result names its procedure (the `feature` label), its rack (the
`phonelab_rack` parameter), its phones (`phone` labels, written by the pytest
plugin: every phone of the rack in service; a scenario that looks at some of them
only still counts for all) and, when it did not pass, a message that leads with the
failing phone(s) (fixtures/diagnose.py). A failure that names phones is held
against those phones only; one that names none is held against every phone of
the scenario, and the other phones of a failed scenario count as inconclusive (the
message names at most a few phones). A cell shows the worst outcome of its scenarios
and how many passed.
Hand-written HTML because it is one small table that must open anywhere (it is a
global attachment of the Allure report and a file beside it).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PHONE_LABEL = "phone"  # value: "<name> (<model>)"
RACK_PARAMETER = "phonelab_rack"
NO_PROCEDURE = "Other checks"
# worst first: what a cell shows when its scenarios disagree
ORDER = ("broken", "failed", "inconclusive", "passed", "skipped", "unknown")
COLOURS = {"passed": "#2ca02c", "failed": "#d62728", "broken": "#ff7f0e",
           "inconclusive": "#9467bd", "skipped": "#8c8c8c", "unknown": "#8c8c8c"}
WORDS = {"passed": "pass", "failed": "FAIL", "broken": "BROKEN",
         "inconclusive": "inconclusive", "skipped": "skipped", "unknown": "unknown"}
_PHONE = re.compile(r"^(?P<name>\S+) \((?P<model>[^)]*)\)$")


@dataclass(frozen=True)
class Scenario:
    """One test result, as the matrix needs it."""

    title: str
    procedure: str
    rack: str
    status: str
    phones: dict[str, str]  # name → model
    message: str = ""

    def verdict(self, phone: str) -> str:
        """This phone's outcome: a failure that names other phones only is inconclusive
        for this one."""
        if self.status not in ("failed", "broken"):
            return self.status
        named = [p for p in self.phones if re.search(rf"\b{re.escape(p)}\b", self.message)]
        return self.status if not named or phone in named else "inconclusive"


@dataclass
class Cell:
    statuses: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    @property
    def worst(self) -> str:
        return min(self.statuses, key=ORDER.index) if self.statuses else "unknown"

    def text(self) -> str:
        passed = self.statuses.count("passed")
        ran = sum(1 for s in self.statuses if s != "skipped")
        if not ran:
            return WORDS["skipped"]
        return f"{WORDS[self.worst]} {passed}/{ran}"


@dataclass
class Matrix:
    procedures: list[str]
    phones: list[tuple[str, str, str]]  # (rack, name, model)
    cells: dict[tuple[str, str, str], Cell]  # (rack, phone, procedure) → cell
    unplaced: list[Scenario]  # results with no phone to place them on (not lab scenarios)

    def cell(self, rack: str, phone: str, procedure: str) -> Cell | None:
        return self.cells.get((rack, phone, procedure))


def _status(raw: object) -> str:
    text = str(raw or "unknown").lower()
    return text if text in ORDER else "unknown"


def read_scenarios(results: Path) -> list[Scenario]:
    """Every `*-result.json` in the Allure results folder (unreadable files are skipped:
    the report itself says which results Allure could not read)."""
    found = []
    for path in sorted(results.glob("*-result.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        labels = [(str(x.get("name")), str(x.get("value"))) for x in data.get("labels", [])
                  if isinstance(x, dict)]
        params = {str(x.get("name")): str(x.get("value", "")).strip("'\"")
                  for x in data.get("parameters", []) if isinstance(x, dict)}
        phones = {}
        for name, value in labels:
            if name == PHONE_LABEL and (match := _PHONE.match(value)):
                phones[match["name"]] = match["model"]
        feature = next((value for name, value in labels if name == "feature"), NO_PROCEDURE)
        details = data.get("statusDetails") or {}
        found.append(Scenario(title=str(data.get("name", path.stem)), procedure=feature,
                              rack=params.get(RACK_PARAMETER, ""), status=_status(
                                  data.get("status")), phones=phones,
                              message=str(details.get("message") or "")))
    return found


def matrix(scenarios: Iterable[Scenario]) -> Matrix:
    """Rows: every phone seen (by rack); columns: every procedure, in first-seen order."""
    procedures: list[str] = []
    phones: dict[tuple[str, str], str] = {}
    cells: dict[tuple[str, str, str], Cell] = {}
    unplaced = []
    for scenario in scenarios:
        if not scenario.phones:
            unplaced.append(scenario)
            continue
        if scenario.procedure not in procedures:
            procedures.append(scenario.procedure)
        for phone, model in scenario.phones.items():
            phones.setdefault((scenario.rack, phone), model)
            cell = cells.setdefault((scenario.rack, phone, scenario.procedure), Cell())
            cell.statuses.append(scenario.verdict(phone))
            cell.titles.append(f"{scenario.title}: {scenario.verdict(phone)}")
    rows = [(rack, name, model) for (rack, name), model in sorted(phones.items())]
    return Matrix(sorted(procedures), rows, cells, unplaced)


def render(table: Matrix, title: str) -> str:
    """A standalone HTML page: the matrix, a legend, and what could not be placed."""
    esc = html.escape
    head = "".join(f"<th>{esc(p)}</th>" for p in table.procedures)
    rows = []
    for rack, name, model in table.phones:
        tds = []
        for procedure in table.procedures:
            cell = table.cell(rack, name, procedure)
            if cell is None:
                tds.append('<td class="none">not run</td>')
                continue
            tip = esc("\n".join(cell.titles))
            tds.append(f'<td title="{tip}" style="background:{COLOURS[cell.worst]}">'
                       f"{esc(cell.text())}</td>")
        rows.append(f"<tr><th>{esc(name)}<br><small>{esc(model)} · {esc(rack)}</small></th>"
                    f"{''.join(tds)}</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(table.procedures) + 1}">no lab scenario ran'
                    "</td></tr>")
    others = "".join(f"<li>{esc(s.title)}: {esc(WORDS[s.status])}</li>"
                     for s in table.unplaced)
    legend = " ".join(f'<span style="background:{COLOURS[s]}" class="key">{WORDS[s]}</span>'
                      for s in ("passed", "failed", "inconclusive", "broken", "skipped"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}: phones × procedures</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: center; }}
td {{ color: #fff; font-weight: bold; }}
td.none {{ color: #999; font-weight: normal; background: #f4f4f4; }}
.key {{ color: #fff; padding: 2px 6px; white-space: nowrap; }}
</style></head><body>
<h1>Phones × procedures</h1>
<p>{esc(title)}</p>
<p>Each cell: the worst outcome of the procedure's scenarios for that phone, then how many
passed of those that ran (hover for the scenarios). A failure is held against the phones
its message names (the others are inconclusive), else against every phone of the
scenario. BROKEN: the lab or the harness failed, not the phone (the report's categories
say which). {legend}</p>
<table id="phones-by-procedure">
<tr><th>phone</th>{head}</tr>
{"".join(rows)}
</table>
{f"<h2>Checks without phones</h2><ul>{others}</ul>" if others else ""}
</body></html>
"""


def write(results: Path, path: Path, title: str) -> Path:
    """Read the run's results and write the summary page to `path`."""
    path.write_text(render(matrix(read_scenarios(results)), title), encoding="utf-8")
    return path
