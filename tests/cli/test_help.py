"""Every command's --help names its values as people write them: no `<bool>`, `<path>`,
`<list[str]>` or `{file}` from the Python types, and a usage mistake in any command is
one line and exit 2."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main

from harness.cli.help_format import tidy
from harness.cli.main import build_app, main

TYPE_NAMES = re.compile(r"<(bool|str|int|float|path|file|dir|list\[[^\]]*\])[^>]*>|\{[a-z_]+\}")


def _paths(command: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subs = getattr(command, "commands", {})
    if prefix:
        yield prefix
    for name, sub in sorted(subs.items()):
        yield from _paths(sub, (*prefix, name))


COMMANDS = list(_paths(tidy(typer.main.get_command(build_app([])))))


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["phonelab", *argv])
    monkeypatch.setenv("COLUMNS", "200")  # one row per option: a metavar is never split
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_every_group_is_listed() -> None:
    assert len(COMMANDS) >= 30
    assert ("power", "cycle") in COMMANDS and ("tlv", "show") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help_shows_real_metavars(path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([*path, "--help"], monkeypatch, capsys)
    assert code == 0 and "Usage: phonelab " + " ".join(path) in out, err
    assert not TYPE_NAMES.findall(out), out


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_unknown_option_is_one_line_and_exit_2(path: tuple[str, ...],
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([*path, "--no-such-option"], monkeypatch, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("phonelab: "), err
    assert "--no-such-option" in err and "--help" in err  # says which and where to look


def test_specific_metavars(monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["tlv", "show", "--help"], monkeypatch, capsys)
    assert "Usage: phonelab tlv show [OPTIONS] FILE" in out
    assert re.search(r"--json\s+Print one JSON", out)  # a flag takes no value
    _, out, _ = run(["twin", "up", "--help"], monkeypatch, capsys)
    assert re.search(r"--lab\s+FILE", out) and re.search(r"--phones\s+INTEGER", out)
    assert re.search(r"--profile\s+\[fast\|realistic\]", out)


@pytest.mark.parametrize("group", ["storm", "preflight", "serve"])
def test_a_group_that_is_one_command_asks_for_no_subcommand(
        group: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run([group, "--help"], monkeypatch, capsys)
    assert re.search(rf"Usage: phonelab {group} \[OPTIONS\]\s*$", out, re.M), out
    assert "COMMAND [ARGS]" not in out
    _, out, _ = run(["lab", "--help"], monkeypatch, capsys)
    assert "Usage: phonelab lab [OPTIONS] COMMAND [ARGS]" in out  # real groups keep it


def test_a_topology_with_several_mistakes_is_one_line_except_in_lab_validate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbackend: hardware\nracks:\n- name: r\n  bogus: 1\n")
    code, _, err = run(["power", "state", "SEP001122334455", "--lab", str(bad)],
                       monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"phonelab: {bad}: racks[0].cluster: required key is missing (+3 "
                          f"more; `phonelab lab validate {bad}` lists them all)")
    code, _, err = run(["lab", "validate", str(bad)], monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 4 and "racks[0].bogus: unknown key" in err
