#!/bin/bash
# pjdfstest (from $SRC/../shared/peers) on a mode=off mount, part 1 of 3: rename/ (25 files, 4,857
# assertions, among them rename/21.t: an unprivileged rename of a root-owned file between two 0777
# directories). The full suite (8,798 assertions) is split in three so that each part stays under
# the 15-minute test timeout on a loaded CI machine; see tests/lib/pjdfstest.sh.
. "$(dirname "$0")/../lib/common.sh" "$@"
. "$SRC/tests/lib/pjdfstest.sh"
pjd_part rename
