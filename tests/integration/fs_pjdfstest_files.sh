#!/bin/bash
# pjdfstest (from $SRC/../shared/peers) on a mode=off mount, part 2 of 3: opening, linking and
# sizing files (open, link, unlink, granular, chflags, ftruncate, truncate, posix_fallocate).
. "$(dirname "$0")/../lib/common.sh" "$@"
. "$SRC/tests/lib/pjdfstest.sh"
pjd_part files
