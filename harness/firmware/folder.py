"""The folder of a firmware load under test, checked and served read-only over TFTP.

The topology names a folder per model (relative to the topology file); it must
hold `<load>.loads` or phones would be sent looking for a load that is not
there (a UsageError at load time, not a mystery at boot). The TFTP endpoint
serves these folders *under* the generated file set: a generated name always
wins, and every name still goes through `tftp_files` (no traversal, no keys).
Large images are streamed block by block (`tftp_files.FileBody`), one open file
shared by every transfer of it, never read whole per request.
"""

from __future__ import annotations

from pathlib import Path

from harness.cluster.state import ClusterState
from harness.errors import UsageError
from harness.services.tftp_files import Body, DirectorySource


def check_folder(directory: Path, load: str, where: str = "firmware") -> Path:
    """`directory` resolved, if it is a folder holding `<load>.loads`; UsageError if not."""
    if not directory.is_dir():
        raise UsageError(f"{where}: firmware folder {directory} does not exist "
                         f"(create it, or run `phonelab firmware make-example {directory} "
                         f"--load {load}` for a synthetic one)")
    if not (directory / f"{load}.loads").is_file():
        raise UsageError(f"{where}: firmware folder {directory} has no {load}.loads "
                         "(the load id must match the .loads file name)")
    return directory.resolve()


class FirmwareFiles:
    """A `FileSource` over the firmware folders of `state.firmware`, read at each lookup,
    so a load added to the state after the TFTP endpoint started is served at once."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self._sources: dict[str, DirectorySource] = {}

    def lookup(self, name: str) -> bytes | None:
        body = self.open(name)
        return body if body is None or isinstance(body, bytes) else body[0:len(body)]

    def open(self, name: str) -> Body | None:
        """Like `lookup`, but a large image comes back to be read by block (TFTP streams)."""
        for load in self.state.firmware.values():
            if load.directory is None:
                continue
            source = self._sources.get(load.directory)
            if source is None:
                try:
                    source = self._sources[load.directory] = DirectorySource(Path(load.directory))
                except UsageError:  # the folder vanished after validation: nothing served
                    continue
            data = source.open(name)  # PermissionError (traversal, keys) propagates
            if data is not None:
                return data
        return None
