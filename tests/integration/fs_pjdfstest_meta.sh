#!/bin/bash
# pjdfstest (from $SRC/../shared/peers) on a mode=off mount, part 3 of 3: making names and changing
# metadata (mkdir, mkfifo, mknod, rmdir, symlink, chmod, chown, utimensat).
. "$(dirname "$0")/../lib/common.sh" "$@"
. "$SRC/tests/lib/pjdfstest.sh"
pjd_part meta
