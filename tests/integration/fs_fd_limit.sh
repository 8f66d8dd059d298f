#!/bin/bash
# Descriptor bound (issue 15 item 1): the daemon, run with a limit of 256 open files, serves a
# directory of 25,000 files (the kernel caching every inode) and a real Debian rootfs walked with
# `chroot MNT find / -xdev`, with no "Too many open files" anywhere; afterwards programs still run
# from the mount. A daemon whose soft limit is below its hard limit raises it at start, and grows
# its descriptor table to it at once.
# About 20-40 s (creating 25k files, two walks).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd prlimit find chroot
[ -x "$DIGESTFS" ] || skip "digestfs not built"

# The flat tree: 25,000 empty files and 200 directories of 10 (so directories count too).
mkdir -p "$T/lower/flat" "$T/mnt"
(cd "$T/lower/flat" && seq -f 'f%05g' 1 25000 | xargs touch)
for d in $(seq 1 200); do mkdir -p "$T/lower/deep/d$d" && (cd "$T/lower/deep/d$d" && touch a b c d e f g h i j); done
# 200 small files that one process holds open at once.
mkdir -p "$T/lower/held"
for i in $(seq 1 200); do echo "held $i" >"$T/lower/held/h$i"; done

# soft 256 < hard 4096: the daemon raises its soft limit to 4096 (checked below), then is bounded.
prlimit --nofile=256:4096 "$DIGESTFS" "$T/lower" "$T/mnt" -f -o mode=off,loglevel=info 2>"$T/log" &
pid=$!
at_exit "unmount '$T/mnt'; wait $pid 2>/dev/null"
wait_mounted "$T/mnt"
soft=$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")
assert_eq "$soft" "4096" "soft RLIMIT_NOFILE of the daemon after start"
pass "the daemon raised its soft descriptor limit to the hard limit"
# Its descriptor table was grown at start to that limit (fs/fd_table.h), not doubled later inside
# lookups (each doubling of a multi-threaded process's table waits for an RCU grace period).
fdsize=$(awk '/^FDSize:/ {print $2}' "/proc/$pid/status")
[ "${fdsize:-0}" -ge 4096 ] || fail "descriptor table of the daemon holds ${fdsize:-?} slots after start, expected at least 4096"
grep -q 'event=descriptor_limit .*fd_table=4096' "$T/log" || { grep descriptor_limit "$T/log" >&2; fail "no 'fd_table=4096' in the daemon's descriptor_limit event"; }
pass "the daemon's descriptor table holds $fdsize slots from the start"
unmount "$T/mnt"; wait $pid 2>/dev/null || true

# soft = hard = 256: nothing to raise; the inode descriptors must be bounded.
prlimit --nofile=256:256 "$DIGESTFS" "$T/lower" "$T/mnt" -f -o mode=off,loglevel=info 2>"$T/log" &
pid=$!
at_exit "unmount '$T/mnt'; wait $pid 2>/dev/null"
wait_mounted "$T/mnt"
n=$(find "$T/mnt" -xdev 2>"$T/find.err" | wc -l)
[ -s "$T/find.err" ] && { head -5 "$T/find.err" >&2; fail "find through the mount reported errors ($(wc -l <"$T/find.err") lines)"; }
assert_eq "$n" "$((1 + 1 + 25000 + 1 + 200 + 2000 + 1 + 200))" "entries found through the mount"
# stat of every file keeps each inode cached in the kernel.
stat -c %i "$T/mnt"/flat/* >/dev/null 2>"$T/stat.err" || { head -5 "$T/stat.err" >&2; fail "stat of 25k files through the mount failed"; }
fds=$(ls "/proc/$pid/fd" | wc -l)
[ "$fds" -lt 256 ] || fail "daemon holds $fds descriptors"
pass "25k files walked and stat'ed with a limit of 256 (daemon holds $fds descriptors)"
# Each file opened and read, every directory listed again.
find "$T/mnt/deep" -type f -exec cat {} + >/dev/null 2>"$T/cat.err" || { head -5 "$T/cat.err" >&2; fail "reading files failed"; }
ls -lR "$T/mnt/deep" >/dev/null 2>"$T/ls.err" || { head -5 "$T/ls.err" >&2; fail "ls -lR failed"; }
pass "files read and directories listed after the walk"
# One process holds all 200 small files open and then reads each: every open file keeps its
# inode's descriptor, and each first read opens the reader's lower file, more than the cache of
# 128 leaves room for: the daemon closes cached descriptors and retries instead of failing reads.
# 300 names looked up for the first time while those 200 are held open (made beneath the mount
# now, after the walks, so that nothing has looked them up yet), and 50 directories opened.
mkdir -p "$T/lower/more" "$T/lower/moredirs"
(cd "$T/lower/more" && seq -f 'm%03g' 1 300 | xargs touch)
for i in $(seq 1 50); do mkdir "$T/lower/moredirs/d$i"; done
python3 - "$T/mnt/held" >"$T/held.out" 2>&1 <<'PY' || { cat "$T/held.out" >&2; fail "with 200 files held open: a read, lookup or listing failed"; }
import os, sys
d = sys.argv[1]
fds = [os.open(f"{d}/h{i}", os.O_RDONLY) for i in range(1, 201)]
for i, fd in enumerate(fds, 1):
    got = os.read(fd, 100)
    if got != f"held {i}\n".encode():
        sys.exit(f"h{i}: read {got!r}")
# Still holding them: new lookups and directory opens find the daemon short of descriptors, and
# it closes cached ones instead of failing them with EMFILE.
up = os.path.dirname(d)
for i in range(1, 301):
    os.stat(f"{up}/more/m{i:03d}")
for i in range(1, 51):
    os.listdir(f"{up}/moredirs/d{i}")
for fd in fds:
    os.close(fd)
PY
pass "200 files held open at once, each read correctly, then 300 new names looked up and 50 directories listed, with a limit of 256"
unmount "$T/mnt"; wait $pid 2>/dev/null || true

# The real rootfs, read only: chroot MNT find / -xdev, then programs from it still run.
. "$SRC/tests/lib/rootfs.sh"
dfs_rootfs || skip "no Debian mirror"
mkdir -p "$T/rmnt"
prlimit --nofile=256:256 "$DIGESTFS" "$DFS_ROOTFS" "$T/rmnt" -f -o mode=off,ro,loglevel=info 2>"$T/rlog" &
rpid=$!
at_exit "unmount '$T/rmnt'; wait $rpid 2>/dev/null"
wait_mounted "$T/rmnt"
native=$(chroot "$DFS_ROOTFS" find / -xdev 2>/dev/null | wc -l)
got=$(chroot "$T/rmnt" find / -xdev 2>"$T/rfind.err" | wc -l)
[ -s "$T/rfind.err" ] && { head -5 "$T/rfind.err" >&2; fail "chroot find through the mount reported errors"; }
assert_eq "$got" "$native" "entries of the rootfs through the mount"
chroot "$T/rmnt" ls -l /usr/bin >/dev/null 2>"$T/rls.err" || { head -3 "$T/rls.err" >&2; fail "ls in the chroot failed after the walk"; }
out=$(chroot "$T/rmnt" python3 -c 'import json, zlib; print(json.dumps(zlib.crc32(b"x")))' 2>&1) || fail "python3 in the chroot failed: $out"
assert_eq "$out" "2363233923" "python3 output"
fds=$(ls "/proc/$rpid/fd" | wc -l)
[ "$fds" -lt 256 ] || fail "daemon holds $fds descriptors"
pass "chroot find / -xdev over the Debian rootfs ($got entries), ls and python3 with a limit of 256 ($fds descriptors held)"
pass "fs_fd_limit"
