"""The console lines a twin phone prints, worded and shaped per family (docs/HARDWARE.md §2.2).

Why a module of its own: the same regexes (`phone_drivers.console_patterns`) must
recognise an event on a real phone and on the twin (docs/ARCHITECTURE.md principle 1,
docs/HARDWARE.md §6 item 6), so the twin's wording is fixed here in one place and a test
proves every line built here matches its pattern. Texts seen in public logs are marked
[C]; the rest ([U]) are our stand-ins for events no public 79x1/88xx log shows —
`console_patterns.is_confirmed` tells callers which is which.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from harness.phone_models import Family

LEVELS = ("NOT", "INF", "WRN", "ERR", "DEB")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SEC = "SECUREAPP"  # 88xx process name of the security lines [C S19]


class Line(NamedTuple):
    """One log line before formatting: `module` is the 79x1 module (`DHCP`, `DLoad`) or
    the 88xx process (`dgetfile(284)`, `SECUREAPP`)."""

    level: str
    module: str
    text: str


def format_line(family: Family, line: Line, *, when: datetime, seq: int) -> str:
    """The line as the phone prints it, without the line terminator.

    79x1/79x2 (and the 7940, whose dialect is not public): `LVL HH:MM:SS.micro module: text`;
    88xx: `seq LVL Mon DD HH:MM:SS.micro proc-text` (month names fixed, not locale-dependent).
    """
    if line.level not in LEVELS:
        raise ValueError(f"console level must be one of {LEVELS}, not {line.level!r}")
    clock = f"{when:%H:%M:%S}.{when.microsecond:06d}"
    if family is Family.C88XX:
        month = _MONTHS[when.month - 1]
        return f"{seq} {line.level} {month} {when.day:02d} {clock} {line.module}-{line.text}"
    return f"{line.level} {clock} {line.module}: {line.text}"


def _pick(family: Family, module_79: str, proc_88: str) -> str:
    return proc_88 if family is Family.C88XX else module_79


def power_up(family: Family, model: str, load: str) -> Line:
    """Boot banner [U]: the first line after power is granted."""
    text = f"Cisco IP Phone {model} load {load} starting"
    return Line("NOT", _pick(family, "boot", "init"), text)


def dhcp_discover(family: Family) -> Line:
    """DHCP start: 79x1 wording [C S16]; 88xx process name [U]."""
    return Line("NOT", _pick(family, "DHCP", "dhcpc"), "Sending Discover...")


def dhcp_bound(family: Family, address: str) -> Line:
    """DHCP lease obtained [U wording; 'DHCP: Succeeded' step from C S16]."""
    return Line("NOT", _pick(family, "DHCP", "dhcpc"), f"Succeeded - IP {address}")


def tftp_server(family: Family, option: int = 150) -> Line:
    """TFTP server learnt from DHCP option 150 or 66 (79x1 wording [C S16])."""
    return Line("INF", _pick(family, "DLoad", "dload"), f"TFTP Svr set by opt{option}")


def dest_path(file: str) -> str:
    """Where the phone stores a fetched file: CTL/ITL under fixed names [C S19]."""
    if file.startswith("CTL"):
        return "/tmp/CTLFile.tlv"
    if file.startswith(("ITL", "ext_ITL")):
        return "/tmp/ITLFile.tlv"
    return f"/tmp/{file.rsplit('/', 1)[-1]}"


def fetch_start(family: Family, file: str, *, pid: int, transfer: int) -> Line:
    """File download begins (88xx shape [C S19]; 79x1 module [U])."""
    text = f"GETXXTP [GT{transfer}][src={file}][dest={dest_path(file)}]"
    return Line("NOT", _pick(family, "DLoad", f"dgetfile({pid})"), text)


def fetch_done(family: Family, server: str, *, pid: int, status: int = 100) -> list[Line]:
    """Download finished: only `status = 100` (success) is seen in public logs [C S19]."""
    module = _pick(family, "DLoad", f"dgetfile({pid})")
    return [Line("NOT", module, f"XXTP complete - status = {status}"),
            Line("NOT", module, f"XXTP actualserver [{server}]")]


def tvs_connect(family: Family, address: str, port: int = 2445) -> list[Line]:
    """The phone opens TLS to TVS to ask about an unknown signer [C S19]."""
    module = _pick(family, "SECD", _SEC)
    return [Line("NOT", module, f"Attempting connect to TVS server addr [{address}]"),
            Line("NOT", module, f"BIO created with: addr:{address}, port:{port}"),
            Line("NOT", module, "Sec SSL Connection - TVS.")]


def tls_ok(family: Family) -> Line:
    return Line("NOT", _pick(family, "SECD", _SEC), "Sec SSL Connection - Handshake successful.")


def tvs_query(family: Family) -> list[Line]:
    """TVS certificate query sent and its answer cached for 24 h [C S19]."""
    module = _pick(family, "SECD", _SEC)
    return [Line("NOT", module, "TVS process request - processing TVS Query Certificate request."),
            Line("NOT", module, "TVS added cert to TVS cache - expires in 24 hours")]


def trust_list_accepted(family: Family) -> list[Line]:
    """CTL/ITL verified and installed, in the order the 8861 prints it [C S19]."""
    module = _pick(family, "SECD", _SEC)
    return [Line("NOT", module, "Hashes match... authentication successful."),
            Line("NOT", module, "updateFromFile: TL parse to table: CTL_SUCCESS"),
            Line("NOT", module, "TL file verified successfully."),
            Line("NOT", module, "TL file updated.")]


def trust_list_failed(family: Family, file: str) -> Line:
    """Status-message wording [D S5]; the file name suffix is ours [U]."""
    return Line("ERR", _pick(family, "SECD", _SEC), f"Trust List update failed: {file}")


def stranded(family: Family) -> Line:
    """The ITL's signer is unknown and no TVS certificate it was shown is in the installed
    ITL: nothing new can be verified until the ITL is erased (docs/PROTOCOLS.md §7.9).
    Printed after the rejected trust list [U wording]."""
    text = "TVS certificate not in ITL: Trust List signer cannot be verified"
    return Line("ERR", _pick(family, "SECD", _SEC), text)


def encrypted_config_unusable(family: Family, file: str, reason: str) -> Line:
    """An encrypted config the phone's keys cannot open: `public key mismatch` (certHash
    names neither LSC nor MIC) or `decrypt file failed`; CAPF is asked next
    (docs/PROTOCOLS.md §7.4, §7.7) [U wording around the soft-client reasons]."""
    return Line("ERR", _pick(family, "CFG", "cfgmgr"), f"{file}: {reason}, contacting CAPF")


def trust_erased(family: Family, files: str) -> Line:
    """After an erase from the keypad; `files` is `CTL`, `ITL` or `CTL and ITL` [D S5]."""
    noun = "files" if " and " in files else "file"
    return Line("NOT", _pick(family, "SECD", _SEC), f"Erasing {files} {noun}")


def config_accepted(family: Family, file: str) -> Line:
    """Signed config verified and applied [U wording]."""
    text = f"config file {file} authenticated successfully."
    return Line("NOT", _pick(family, "CFG", "cfgmgr"), text)


def config_rejected(family: Family, file: str, reason: int = 14) -> Line:
    """Signed config failed verification, old config kept (8945 wording [C S33])."""
    text = f"invalid file {file}, authenticated fail. Reason:{reason}"
    return Line("ERR", _pick(family, "CFG", "cfgmgr"), text)


def registered(family: Family, server: str, protocol: str) -> Line:
    """Registration accepted by the call manager [U wording]."""
    text = f"Registered to {server} ({protocol})"
    return Line("NOT", _pick(family, protocol.upper(), "ms"), text)


def load_upgrade(family: Family, running: str, new: str) -> Line:
    """Firmware verified, the phone reboots into it [U wording] (docs/REAL_WIRE.md §5.3)."""
    return Line("NOT", _pick(family, "DLoad", "dload"), f"Upgrading load {running} to {new}")


def load_failed(family: Family, file: str, reason: str = "File not found") -> Line:
    """A load file missing or failing verification; the running load is kept [U wording,
    status texts of docs/HARDWARE.md §2.5: "File not found", "Load Auth Failed"]."""
    return Line("ERR", _pick(family, "DLoad", "dload"), f"{reason} <{file}>")


def unknown_command(family: Family, command: str) -> Line:
    """The twin's answer to a console command it does not know (twin only)."""
    return Line("ERR", "console", f"unknown command {command!r}; type 'help'")
