"""§7 Back up after TFTP regeneration; a crash loses the key; restoring brings trust back."""

from __future__ import annotations

import allure
import pytest

from fixtures.expect import served_itl, settle, stranded, trusting
from fixtures.lab_run import LabRun
from fixtures.reporting import step
from harness.errors import UsageError

pytestmark = [allure.feature("Backup and restore"), allure.story("TFTP key backup (DRS)")]
PASSPHRASE = "lab-drs-passphrase"


@allure.title("Restoring the DRS backup after a crash brings back the TFTP key the phones trust")
@allure.severity(allure.severity_level.CRITICAL)
@pytest.mark.destructive
def test_restore_after_crash_brings_back_the_tftp_key(lab: LabRun) -> None:
    """After a TFTP certificate regeneration and a fresh DRS backup, a crash that loses every
    key strands the phones. Restoring the backup (a wrong passphrase is refused) and
    restarting TFTP makes them trust the served ITL again: its signer is the one they knew."""
    settle(lab)
    phones = lab.plain_phones()
    with step("Regenerate the TFTP certificate, restart TFTP, reset phones"):
        lab.cluster.regenerate_certificate("tftp")
        lab.cluster.restart_service("tftp")
        trusting(lab, phones, after=lab.reset_all())
    trusted_signer = served_itl(lab).header.signer.serial
    backup = lab.log_dir / "drs-backup.bin"
    with step("Take a new DRS backup (every time the TFTP certificate is regenerated)"):
        lab.cluster.backup(backup, PASSPHRASE)
    with step("Server crash: every node rebuilt without its keys (no TVS left that "
              "phones trust)"):
        for node in lab.cluster.state.nodes:
            lab.cluster.crash(node.name)
    with step("Reset all phones: they cannot verify the new ITL"):
        stranded(lab, phones, after=lab.reset_all())
    with step("Restore the TFTP certificate and key from the backup"):
        with pytest.raises(UsageError):
            lab.cluster.restore(backup, "not-the-passphrase")
        lab.cluster.restore(backup, PASSPHRASE)
    with step("Restart TFTP on every node running it and reset all phones"):
        lab.cluster.restart_service("tftp")
        mark = lab.reset_all()
    trusting(lab, phones, after=mark)
    assert served_itl(lab).header.signer.serial == trusted_signer


@allure.title("A tampered DRS backup is refused and changes nothing")
@allure.severity(allure.severity_level.NORMAL)
def test_tampered_backup_is_refused_and_changes_nothing(lab: LabRun) -> None:
    """A backup with one byte changed is refused on restore, and the served ITL keeps its signer."""
    backup = lab.log_dir / "drs-backup.bin"
    lab.cluster.backup(backup, PASSPHRASE)
    data = bytearray(backup.read_bytes())
    data[-5] ^= 0x01
    backup.write_bytes(bytes(data))
    before = served_itl(lab).header.signer.serial
    with pytest.raises(UsageError, match=r"modified|passphrase"):
        lab.cluster.restore(backup, PASSPHRASE)
    lab.cluster.restart_service("tftp")
    assert served_itl(lab).header.signer.serial == before
