"""What an emulated phone remembers (docs/PROTOCOLS.md §7.1), split by persistence.

Flash items (CTL, ITL, LSC, last accepted config) survive reset and restart;
RAM items (TVS cache, boot flags, status messages, observations of what the
servers presented) are dropped by a reset. Keeping both in one dataclass with
explicit clearing helpers makes the §7.11 table a few obvious lines and lets
tests read every observable of §7.12 directly. The TVS cache keeps positive
answers only, each for its TTL (§7.5); the caller passes the time in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from harness.errors import UsageError
from harness.formats.trustlist import TrustList
from harness.phone_models import PhoneModel, lookup
from harness.pki.identity import Identity
from phone_drivers.emulator.config_facts import ConfigFacts
from phone_drivers.emulator.twin_memory import pack_config, unpack_config

MAX_STATUS_MESSAGES = 30  # the on-screen list keeps 30 (docs/HARDWARE.md §2.4)
_MAC = re.compile(r"[0-9A-F]{12}")


@dataclass(frozen=True)
class CacheEntry:
    """One cached positive TVS answer."""

    certificate: x509.Certificate
    roles: frozenset[int]
    expires: float

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)


class TvsCache:
    """Positive TVS answers keyed by certificate (equal when the DER is), each alive
    for its TTL. Keyed by the certificate object, not a DER copy: twins share their
    certificate objects (firmware_tvs.load_certificate), not bytes made per phone."""

    def __init__(self) -> None:
        self._entries: dict[x509.Certificate, CacheEntry] = {}

    def store(self, cert: x509.Certificate, roles: frozenset[int], ttl: int, now: float) -> None:
        """Remember a positive answer for `ttl` seconds; a TTL of 0 is not cached."""
        if ttl > 0:
            self._entries[cert] = CacheEntry(cert, roles, now + ttl)

    def find(self, wanted: Callable[[x509.Certificate], bool], now: float) -> CacheEntry | None:
        """The first unexpired entry whose certificate satisfies `wanted`."""
        self._expire(now)
        return next((e for e in self._entries.values() if wanted(e.certificate)), None)

    def entries(self, now: float) -> tuple[CacheEntry, ...]:
        """Unexpired entries, for observation (§7.12)."""
        self._expire(now)
        return tuple(self._entries.values())

    def clear(self) -> None:
        self._entries.clear()

    def _expire(self, now: float) -> None:
        for cert in [c for c, e in self._entries.items() if e.expires <= now]:
            del self._entries[cert]


@dataclass(frozen=True)
class PhoneIdentity:
    """Fixed identity: MAC, model and the permanent MIC (absent on old models)."""

    mac: str
    model: str
    mic: Identity | None = None

    def __post_init__(self) -> None:
        mac = self.mac.replace(":", "").replace("-", "").replace(".", "").upper()
        if not _MAC.fullmatch(mac):
            raise UsageError(f"MAC {self.mac!r} is not 12 hex digits")
        object.__setattr__(self, "mac", mac)

    @property
    def name(self) -> str:
        """Device name `SEP<MAC>`, the stem of every per-device file name."""
        return f"SEP{self.mac}"

    @property
    def capabilities(self) -> PhoneModel:
        """Row of the model capability table (UsageError for unknown models)."""
        return lookup(self.model)

    @property
    def tvs_device_name(self) -> str:
        """DEVICE_NAME sent to TVS: `CP-<model>-SEP<MAC>` (§5.4)."""
        return f"CP-{self.capabilities.model}-{self.name}"


@dataclass(frozen=True)
class PhoneOptions:
    """Behaviours the spec leaves [UNCERTAIN]; defaults follow docs/PROTOCOLS.md."""

    enc_first: bool = False  # ask .enc.sgn before the .sgn stub (§7.2 step 4a)
    pre_itl_firmware: bool = False  # firmware older than 8.0: no ITL requests
    check_config_filename: bool = False  # header FILENAME must equal the name (§2.3)
    restart_clears_tvs_cache: bool = True  # §7.11 restart: cache effect uncertain
    factory_reset_keeps_lsc: bool = False  # §7.11 factory reset: LSC uncertain


@dataclass
class PhoneState:
    """The mutable state one firmware instance decides on."""

    identity: PhoneIdentity
    options: PhoneOptions = field(default_factory=PhoneOptions)
    # flash
    lsc: Identity | None = None
    ctl: TrustList | None = None
    itl: TrustList | None = None
    packed_config: tuple[bytes, bytes] | None = field(default=None, repr=False)  # last_config
    config: ConfigFacts = field(default_factory=ConfigFacts)
    # RAM
    tvs_cache: TvsCache = field(default_factory=TvsCache)
    stub: ConfigFacts | None = None  # short config accepted in this boot
    capf_string: str | None = None
    capf_needed: str | None = None
    capf_result: str | None = None
    trust_list_update_failed: bool = False
    config_rejected: bool = False
    status_messages: list[str] = field(default_factory=list)
    installed_this_boot: set[str] = field(default_factory=set)
    offered_itl: tuple[str, bytes] | None = None  # (digest, signer DER) last offered
    tvs_presented: list[bytes] = field(default_factory=list)  # TVS TLS certs since that offer

    @property
    def last_config(self) -> bytes | None:
        """The last accepted config (flash); kept deflated (`pack_config`)."""
        return None if self.packed_config is None else unpack_config(self.packed_config)

    @last_config.setter
    def last_config(self, config: bytes | None) -> None:
        self.packed_config = None if config is None else pack_config(config)

    # The rules below live in plain functions: the mutation tool does not reach into
    # properties (docs/mutation.md), and these are trust rules it must test.
    @property
    def holds_trust_list(self) -> bool:
        """Any CTL or ITL installed: from then on configs must be signed (§7.2 step 4)."""
        return holds_any_trust_list(self)

    @property
    def accepts_unsigned(self) -> bool:
        """Rollback ITL and no CTL: any config and any ITL go (§2.7, §7.8)."""
        return unsigned_configs_allowed(self)

    @property
    def capf_facts(self) -> ConfigFacts:
        """CAPF settings: the stub's when one came in this boot, else the config's."""
        return capf_settings(self)

    @property
    def client_identity(self) -> Identity | None:
        """Certificate shown to TVS/CAPF: the LSC, else the MIC (§5.1)."""
        return client_certificate(self)

    def add_status(self, message: str | None) -> None:
        """Append an on-screen status line, keeping the newest 30."""
        if message:
            self.status_messages.append(message)
            del self.status_messages[:-MAX_STATUS_MESSAGES]

    def clear_boot_state(self, *, cache: bool, statuses: bool) -> None:
        """Forget what this boot learnt (RAM); flash items stay."""
        if cache:
            self.tvs_cache.clear()
        if statuses:
            self.status_messages.clear()
        self.stub = self.capf_needed = self.capf_result = self.capf_string = None
        self.trust_list_update_failed = self.config_rejected = False
        self.installed_this_boot.clear()
        self.offered_itl = None
        self.tvs_presented.clear()


def holds_any_trust_list(state: PhoneState) -> bool:
    """`PhoneState.holds_trust_list`."""
    return state.ctl is not None or state.itl is not None


def unsigned_configs_allowed(state: PhoneState) -> bool:
    """`PhoneState.accepts_unsigned`: a rollback ITL, and no CTL (§7.4, §7.8)."""
    return state.ctl is None and state.itl is not None and state.itl.is_rollback


def capf_settings(state: PhoneState) -> ConfigFacts:
    """`PhoneState.capf_facts`."""
    return state.stub if state.stub is not None else state.config


def client_certificate(state: PhoneState) -> Identity | None:
    """`PhoneState.client_identity`."""
    return state.lsc if state.lsc is not None else state.identity.mic
