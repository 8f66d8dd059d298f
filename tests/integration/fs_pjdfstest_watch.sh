#!/bin/bash
# pjdfstest (from $SRC/../shared/peers) on a mode=off,watch=on mount (docs/mount.md, "Watching
# the lower tree"): the directory operations, where the kernel keeps listings and names itself
# once OPENDIR is left to it (mkdir, rmdir, rename, unlink, link, symlink, open).
. "$(dirname "$0")/../lib/common.sh" "$@"
PJD_OPTS=mode=off,watch=on
. "$SRC/tests/lib/pjdfstest.sh"
pjd_run mkdir rmdir rename unlink link symlink open
