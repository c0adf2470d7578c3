"""Who has a rack: one-host file leases, or a labgrid coordinator's place (docs/shared-lab.md).

`lease_for` picks the kind from the topology: a rack with `reservation:` is shared
through labgrid's coordinator, every other rack keeps the file lease of one host.
"""

from harness.leases.base import Holder, Lease, Progress, holder_tag
from harness.leases.factory import default_lease_dir, lease_for, refuse_if_held
from harness.leases.file_lease import FileLease

__all__ = ["FileLease", "Holder", "Lease", "Progress", "default_lease_dir", "holder_tag",
           "lease_for", "refuse_if_held"]
