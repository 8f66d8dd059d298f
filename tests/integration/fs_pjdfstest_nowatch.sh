#!/bin/bash
# pjdfstest (from $SRC/../shared/peers) on a mode=off,watch=off mount: the directory operations
# (mkdir, rmdir, rename, unlink, link, symlink, open) where every directory open is an OPENDIR
# round trip, as where the watch cannot be set up. The other pjdfstest groups run with the
# default watch=auto (docs/mount.md, "Watching the lower tree"), which as root leaves directory
# opens and listings to the kernel.
. "$(dirname "$0")/../lib/common.sh" "$@"
PJD_OPTS=mode=off,watch=off
. "$SRC/tests/lib/pjdfstest.sh"
pjd_run mkdir rmdir rename unlink link symlink open
