"""Regexes that recognise SBD events on a phone console, real or twin (docs/HARDWARE.md §2.2).

One table for both backends (docs/ARCHITECTURE.md principle 1): a testcase waits for
`pattern(ConsoleEvent.TL_VERIFIED, family)` whether the console is a 7962's AUX jack
or a twin's pty. Each pattern matches one *whole* line (family prefix, body, line end),
so a half-received line never matches and `match.group(0)` is the full line. Bodies
follow public logs where they exist; `is_confirmed` is False for the ones that only
mirror the twin's wording (`emulator/console_lines.py`) until seen on hardware.
"""

from __future__ import annotations

import re
from enum import StrEnum

from harness.phone_models import Family

_LEVEL = r"(?P<level>NOT|INF|WRN|ERR|DEB)"
_CLOCK = r"\d\d:\d\d:\d\d\.\d+"
_DATE = r"[A-Z][a-z][a-z] [ \d]\d"
_PREFIX = {  # {module} is replaced per event; the 7940 has no public dialect: 79x1 shape
    Family.C79X1: rf"^{_LEVEL} {_CLOCK} (?P<module>{{module}}): ",
    Family.C88XX: rf"^(?P<seq>\d+) {_LEVEL} {_DATE} {_CLOCK} (?P<module>{{module}})-",
}
_ANY_MODULE = {Family.C79X1: r"[^\r\n:]+", Family.C88XX: r"[^\s-]+"}
_END = r"[^\r\n]*\r?\n"


class ConsoleEvent(StrEnum):
    POWER_UP = "power_up"
    DHCP_DISCOVER = "dhcp_discover"
    DHCP_BOUND = "dhcp_bound"
    TFTP_SERVER = "tftp_server"
    FETCH_START = "fetch_start"
    FETCH_DONE = "fetch_done"
    FETCH_SERVER = "fetch_server"
    TVS_CONNECT = "tvs_connect"
    TLS_OK = "tls_ok"
    TVS_QUERY = "tvs_query"
    TVS_CACHED = "tvs_cached"
    TL_VERIFIED = "tl_verified"
    TL_UPDATED = "tl_updated"
    TL_FAILED = "tl_failed"
    TRUST_ERASED = "trust_erased"
    CONFIG_ACCEPTED = "config_accepted"
    CONFIG_REJECTED = "config_rejected"
    REGISTERED = "registered"
    UNKNOWN_COMMAND = "unknown_command"
    LOAD_UPGRADE = "load_upgrade"
    LOAD_FAILED = "load_failed"


_E = ConsoleEvent
_BODY: dict[ConsoleEvent, str] = {
    _E.POWER_UP: r"Cisco IP Phone (?P<model>\S+) load (?P<load>\S+) starting",
    _E.DHCP_DISCOVER: r"Sending Discover\.\.\.",
    _E.DHCP_BOUND: r"Succeeded(?: - IP (?P<address>[\d.]+))?",
    _E.TFTP_SERVER: r"TFTP Svr set by opt(?P<option>150|66)",
    _E.FETCH_START: r"GETXXTP \[GT\d+\]\[src=(?P<file>[^\]\r\n]+)\]\[dest=(?P<dest>[^\]\r\n]+)\]",
    _E.FETCH_DONE: r"XXTP complete - status = (?P<status>\d+)",
    _E.FETCH_SERVER: r"XXTP actualserver \[(?P<server>[^\]\r\n]+)\]",
    _E.TVS_CONNECT: r"Attempting connect to TVS server addr \[(?P<address>[^\]\r\n]+)\]",
    _E.TLS_OK: r"Sec SSL Connection - Handshake successful\.",
    _E.TVS_QUERY: r"TVS process request - processing TVS Query Certificate request\.",
    _E.TVS_CACHED: r"TVS added cert to TVS cache - expires in (?P<hours>\d+) hours",
    _E.TL_VERIFIED: r"TL file verified successfully\.",
    _E.TL_UPDATED: r"TL file updated\.",
    _E.TL_FAILED: r"Trust List update failed",
    _E.TRUST_ERASED: r"Erasing (?P<files>CTL and ITL|CTL|ITL) files?",
    _E.CONFIG_ACCEPTED: r"config file (?P<file>\S+) authenticated successfully\.",
    _E.CONFIG_REJECTED: (r"invalid file (?P<file>[^\s,]+), authenticated fail\."
                         r" Reason:(?P<reason>\d+)"),
    _E.REGISTERED: r"Registered to (?P<server>\S+) \((?P<protocol>\w+)\)",
    _E.UNKNOWN_COMMAND: r"unknown command '(?P<command>[^'\r\n]*)'",
    _E.LOAD_UPGRADE: r"Upgrading load (?P<running>\S+) to (?P<load>\S+)",
    _E.LOAD_FAILED: r"(?P<reason>File not found|Load Auth Failed) <(?P<file>[^>\r\n]+)>",
}
_MODULE: dict[tuple[ConsoleEvent, Family], str] = {  # where the emitting module is public
    (_E.FETCH_START, Family.C88XX): r"dgetfile\(\d+\)",
    (_E.FETCH_DONE, Family.C88XX): r"dgetfile\(\d+\)",
    (_E.FETCH_SERVER, Family.C88XX): r"dgetfile\(\d+\)",
    (_E.TVS_CONNECT, Family.C88XX): "SECUREAPP",
    (_E.DHCP_DISCOVER, Family.C79X1): "DHCP",
    (_E.TFTP_SERVER, Family.C79X1): "DLoad",
}
_CONFIRMED = {  # seen in public logs of that family (docs/HARDWARE.md §2.2, sources S16/S19/S33)
    (_E.DHCP_DISCOVER, Family.C79X1), (_E.TFTP_SERVER, Family.C79X1),
    *((e, Family.C88XX) for e in (_E.FETCH_START, _E.FETCH_DONE, _E.FETCH_SERVER,
                                   _E.TVS_CONNECT, _E.TLS_OK, _E.TVS_QUERY, _E.TVS_CACHED,
                                   _E.TL_VERIFIED, _E.TL_UPDATED, _E.CONFIG_REJECTED)),
}
_cache: dict[tuple[ConsoleEvent, Family], re.Pattern[str]] = {}


def dialect(family: Family) -> Family:
    """The console dialect a family speaks (the 7940/7960 borrow the 79x1 shape [U])."""
    return Family.C88XX if family is Family.C88XX else Family.C79X1


def pattern(event: ConsoleEvent, family: Family) -> re.Pattern[str]:
    """The compiled whole-line regex for `event` on a `family` console (MULTILINE)."""
    key = (event, dialect(family))
    if key not in _cache:
        module = _MODULE.get(key, _ANY_MODULE[key[1]])
        prefix = _PREFIX[key[1]].format(module=module)
        _cache[key] = re.compile(prefix + _BODY[event] + _END, re.MULTILINE)
    return _cache[key]


def line_regex(family: Family) -> re.Pattern[str]:
    """Any well-formed log line of the family, with groups level/module/text (and seq)."""
    prefix = _PREFIX[dialect(family)].format(module=_ANY_MODULE[dialect(family)])
    return re.compile(prefix + r"(?P<text>[^\r\n]*?)\r?$", re.MULTILINE)


def is_confirmed(event: ConsoleEvent, family: Family) -> bool:
    """True if the pattern's wording was seen on a real phone of that family."""
    return (event, dialect(family)) in _CONFIRMED
