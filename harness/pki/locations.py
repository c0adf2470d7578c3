"""Where a hardware rack's lab PKI lives: one place for `phonelab serve` and pytest.

The phones of a rack trust the ITL signer they first saw, so every tool that serves
that rack must sign with the same keys: the default location is shared, per lab and
rack, and survives reboots (a temporary directory would strand the rack's phones).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PHONELAB_DATA"  # overrides the base directory (default ~/.local/share/phonelab)
LEASES_ENV = "PHONELAB_LEASES"  # overrides the lease directory (~/.cache/phonelab/leases)


def data_home() -> Path:
    return Path(os.environ.get(ENV) or Path.home() / ".local" / "share" / "phonelab")


def rack_home(lab: str, rack: str, base: Path | None = None) -> Path:
    """`<base>/<lab>/<rack>`: the rack's persistent state (its PKI is `pki/` inside)."""
    return (base or data_home()) / lab / rack


def rack_pki(lab: str, rack: str, base: Path | None = None) -> Path:
    return rack_home(lab, rack, base) / "pki"


def lease_home() -> Path:
    """Where rack leases live: shared by every run on this host unless overridden.

    `scripts/isolated` points it (and `PHONELAB_DATA`) at a directory of its own, so a
    suite run in its own network namespace does not wait on another run's twin rack.
    """
    return Path(os.environ.get(LEASES_ENV) or Path.home() / ".cache" / "phonelab" / "leases")
