"""Running twins, found by phone name: `twin up` says where its rack is; `power`,
`console` read it.

A twin's switch port and console ptys exist only inside its `phonelab twin up`
process. That process records them (what `twin up --json` prints, with its pid and
topology) in a file of its own under the run directory, removed when it stops; a
record whose process is gone is ignored and removed. The switch password the twin
generated is in it, so the directory is private to the user (0700, files 0600), as
`~/.ssh` is. Run directory: $PHONELAB_RUN_DIR, else $XDG_RUNTIME_DIR/phonelab, else
~/.cache/phonelab/run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError

ENV = "PHONELAB_RUN_DIR"
_MAC = re.compile(r"^[0-9A-F]{12}$")


def run_dir() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV]) / "twins"
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "phonelab" / "twins"
    return Path.home() / ".cache" / "phonelab" / "run" / "twins"


def phone_name(text: str) -> str:
    """`SEP001122334455`, `sep001122334455`, `001122334455` or `00:11:22:33:44:55` →
    `SEP001122334455`; any other text is returned upper-cased, as a topology name."""
    bare = re.sub(r"[:.\-\s]", "", text.strip().upper())
    return f"SEP{bare}" if _MAC.match(bare) else text.strip().upper()


@dataclass(frozen=True)
class RunningTwin:
    record: Path
    pid: int
    lab: str  # the topology's name
    lab_file: str | None  # resolved path of `twin up --lab FILE`; None for a generated rack
    where: dict[str, Any]  # TwinRack.describe()

    @property
    def rack(self) -> str:
        return str(self.where["rack"])

    def phone(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.where["phones"] if p["name"] == name), None)

    def phones(self) -> list[str]:
        return [str(p["name"]) for p in self.where["phones"]]

    def describe(self) -> str:
        return f"lab {self.lab} rack {self.rack} (pid {self.pid})"

    def switch_of(self, phone: dict[str, Any]) -> dict[str, Any]:
        """host/port of the phone's switch, with the twin's login (username, password)."""
        switches = self.where.get("switches", {})
        address = switches.get(phone.get("switch"), self.where["switch"])
        login = self.where["switch"]
        return {"host": address["host"], "port": address["port"],
                "username": login["username"], "password": login["password"]}


def record(where: dict[str, Any], lab: str, lab_file: Path | None) -> Path:
    """Write this process's twin record; the caller removes it (`forget`) on stop."""
    directory = run_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    path = directory / f"{os.getpid()}.json"
    data = {"pid": os.getpid(), "lab": lab,
            "lab_file": str(lab_file.resolve()) if lab_file else None, "where": where}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out)
    return path


def forget(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not our twin, but alive
        return True
    return True


def running() -> list[RunningTwin]:
    """Every twin whose process is alive (stale records are removed)."""
    found = []
    directory = run_dir()
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            twin = RunningTwin(path, int(data["pid"]), str(data["lab"]), data.get("lab_file"),
                               dict(data["where"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours
        if _alive(twin.pid):
            found.append(twin)
        else:
            forget(path)
    return found


def find(phone: str, *, lab_name: str | None = None,
         rack: str | None = None) -> tuple[RunningTwin, dict[str, Any]] | None:
    """The running twin that has `phone` (narrowed to a topology's name and a rack when
    given); UsageError when several do."""
    name = phone_name(phone)
    hits = [(t, p) for t in running() if (p := t.phone(name)) is not None
            and lab_name in (None, t.lab) and rack in (None, t.rack)]
    if len(hits) > 1:
        raise UsageError(f"{name} is a phone of {len(hits)} running twins "
                         f"({'; '.join(t.describe() for t, _ in hits)}); stop one, or name "
                         "it with --lab FILE [--rack R]")
    return hits[0] if hits else None


def not_found(phone: str) -> str:
    """What to say when no running twin has the phone: which twins run, what to do."""
    twins = running()
    seen = "; ".join(f"{t.describe()}: {', '.join(t.phones()[:4])}"
                     + (" …" if len(t.phones()) > 4 else "") for t in twins)
    return (f"no running twin has phone {phone_name(phone)} "
            + (f"(running: {seen})" if twins else "(none is running: `phonelab twin up`)"))
