"""The run-level summary: phones × procedures, from the Allure results of a run."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from harness.report.summary import matrix, read_scenarios, render, write

A, B = "SEP00000A000001", "SEP00000A000002"


def result(directory: Path, uid: str, title: str, status: str, *, feature: str | None = None,
           phones: tuple[str, ...] = (A, B), rack: str = "rack1", message: str = "") -> None:
    """A result file as allure-pytest writes it (the fields the summary reads)."""
    labels = [{"name": "phone", "value": f"{p} ({'7962' if p == A else '8845'})"}
              for p in phones]
    if feature:
        labels.append({"name": "feature", "value": feature})
    data = {"uuid": uid, "name": title, "status": status, "labels": labels,
            "parameters": [{"name": "phonelab_rack", "value": f"'{rack}'"}] if phones else [],
            "statusDetails": {"message": message} if message else {}}
    (directory / f"{uid}-result.json").write_text(json.dumps(data))


class Cells(HTMLParser):
    """The table as rows of cell texts (what a reader sees)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.rows[-1].append("")
            self._in = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in and self.rows:
            self.rows[-1][-1] += data


def table(page: str) -> list[list[str]]:
    parser = Cells()
    parser.feed(page)
    return parser.rows


def run(tmp_path: Path) -> Path:
    result(tmp_path, "1", "First ITL is trusted (rack1)", "passed", feature="Identity Trust List")
    result(tmp_path, "2", "A model without SbD gets no ITL (rack1)", "passed",
           feature="Identity Trust List")
    result(tmp_path, "3", "TFTP certificate regeneration (rack1)", "failed",
           feature="Certificate regeneration",
           message=f"{B}: failed at TVS: certificate not in the trust store (12:00:01.234)")
    result(tmp_path, "4", "Phones fail over to the next TVS (rack1)", "broken",
           feature="Trust Verification Service",
           message="LabError: switch sw1: power inline did not come back")
    result(tmp_path, "5", "Restore after a crash (rack1)", "skipped", feature="Backup and restore")
    result(tmp_path, "6", "test_rack_power_dies", "broken", phones=(), message="LabError: x")
    (tmp_path / "7-result.json").write_text("{not json")  # a half-written file: ignored
    return tmp_path


def test_cells_show_each_phones_outcome_per_procedure(tmp_path: Path) -> None:
    found = matrix(read_scenarios(run(tmp_path)))
    assert found.procedures == ["Backup and restore", "Certificate regeneration",
                                "Identity Trust List", "Trust Verification Service"]
    assert [(rack, name) for rack, name, _ in found.phones] == [("rack1", A), ("rack1", B)]
    text = {(p, proc): c.text() for (_, p, proc), c in found.cells.items()}
    assert text[(A, "Identity Trust List")] == "pass 2/2"
    assert text[(B, "Certificate regeneration")] == "FAIL 0/1"  # the phone the failure names
    assert text[(A, "Certificate regeneration")] == "inconclusive 0/1"  # not blamed, not proven
    assert text[(A, "Trust Verification Service")] == "BROKEN 0/1"  # names no phone: all
    assert text[(B, "Trust Verification Service")] == "BROKEN 0/1"
    assert text[(A, "Backup and restore")] == "skipped"
    assert [s.title for s in found.unplaced] == ["test_rack_power_dies"]


def test_page_is_a_table_with_phones_as_rows_and_procedures_as_columns(tmp_path: Path) -> None:
    page = write(run(tmp_path), tmp_path / "out.html", "phonelab sign-off: lab twin").read_text()
    rows = table(page)
    assert rows[0] == ["phone", "Backup and restore", "Certificate regeneration",
                       "Identity Trust List", "Trust Verification Service"]
    assert rows[1] == [f"{A}7962 · rack1", "skipped", "inconclusive 0/1", "pass 2/2",
                       "BROKEN 0/1"]
    assert rows[2] == [f"{B}8845 · rack1", "skipped", "FAIL 0/1", "pass 2/2", "BROKEN 0/1"]
    assert "phonelab sign-off: lab twin" in page
    assert "test_rack_power_dies: BROKEN" in page  # results with no phone are listed


def test_a_procedure_a_phone_did_not_run_is_marked(tmp_path: Path) -> None:
    result(tmp_path, "1", "Only A", "passed", feature="Firmware under test", phones=(A,))
    result(tmp_path, "2", "Both", "passed", feature="Identity Trust List")
    rows = table(render(matrix(read_scenarios(tmp_path)), "t"))
    assert rows[2][1:] == ["not run", "pass 1/1"]


def test_two_racks_are_separate_rows(tmp_path: Path) -> None:
    result(tmp_path, "1", "ITL (rack1)", "passed", feature="ITL", phones=(A,), rack="rack1")
    result(tmp_path, "2", "ITL (rack2)", "failed", feature="ITL", phones=(A,), rack="rack2")
    found = matrix(read_scenarios(tmp_path))
    assert [(rack, found.cells[(rack, A, "ITL")].text()) for rack, _, _ in found.phones] == [
        ("rack1", "pass 1/1"), ("rack2", "FAIL 0/1")]


def test_no_scenario_still_writes_a_page(tmp_path: Path) -> None:
    page = render(matrix(read_scenarios(tmp_path)), "empty run")
    assert "no lab scenario ran" in page
