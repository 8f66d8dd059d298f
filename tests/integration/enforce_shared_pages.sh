#!/bin/bash
# The kernel's page cache of a file is shared by every open of it: pages filled through an open
# the policy does not appraise (or a writer's) are the pages a block-checked open is then served,
# with no READ the daemon could check. Mounted with the DEFAULT options (mode=enforce, the
# default policy: exec appraised everywhere, reads of /opt not), over a signed manifest:
#  1. A listed program runs through the mount (a checked exec open) and has not yet touched the
#     page of its message. Beneath the mount its message is changed in place. An unprivileged
#     user opens the program read-only (not appraised: direct_io, as a checked open exists),
#     maps it MAP_PRIVATE (the kernel drops the inode's cached pages for such a mapping) and
#     touches that page: the program must never print the changed message (it may die of
#     SIGBUS); the reader must get SIGBUS too (its fill is checked while the program runs).
#  2. The same, but the unprivileged reader opened the file before the program started (a
#     page-cache open, not direct_io), maps the page MAP_SHARED without touching it, and refills
#     the pages with posix_fadvise(DONTNEED) and pread(2).
#  3. A root writer through the mount (a writer is never checked) writes into a listed library
#     that a checked reader (reads of /usr are appraised) holds open, then maps it MAP_PRIVATE
#     and touches it: the checked reader's next read is EIO, never the written bytes.
#  4. Nothing changed: a reader the policy does not appraise reads a file that a checked program
#     holds open exactly as natively (the check of its reads finds the listed bytes).
#  5. copy_file_range(2) from a block-checked open whose bytes changed beneath: never copies them
#     (it was a copy between the lower files, unchecked; a second review found it).
#  6. Beneath the mount the running program's file is rewritten with another listed content (the
#     default policy binds no path: any listed bytes are trusted) and executed again: the running
#     program must not be served the other version's pages, which that exec's verdict allows
#     (the second review; both programs fail closed now, SIGBUS or EIO).
# Found by adversarial reviews (2026-12-07); each of 1-3, 5 and 6 served the changed bytes before
# its fix. About 10 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3 cc setpriv
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

# A program with its message alone in a page after a 3 MiB array: it prints whether that page is
# resident yet, waits for a file to exist, then prints the message.
cat >"$T/prog.c" <<'C'
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
__attribute__((aligned(4096))) const char pad[3 << 20] = {1};
__attribute__((aligned(4096))) const char msg[4096] = "MSG=GOOD-GOOD-GOOD";
int main(int argc, char **argv) {
  unsigned char v = 0;
  mincore((void *)msg, 4096, &v);
  printf("started resident=%d\n", v & 1);
  fflush(stdout);
  struct stat st;
  while (stat(argv[1], &st) != 0) usleep(20000);
  printf("%s\n", msg);
  return 0;
}
C
# -fno-toplevel-reorder keeps msg after pad: without it GCC emits msg first (offset 12288), in
# the same 64 KiB verify block as the program's code, and the program then died of SIGBUS at the
# next refault of its own code after any drop of its pages (the reader's LOOKUP, which brings the
# changed mtime, drops them), closing its checked handle: a reader's fill that came after that
# close was unchecked, rightly (no block-checked open left), and was served the changed bytes.
cc -O1 -fno-toplevel-reorder -o "$T/prog" "$T/prog.c" || skip "cannot compile a test program"
sed 's/MSG=GOOD-GOOD-GOOD/MSG=EVIL-EVIL-EVIL/' "$T/prog.c" >"$T/prog2.c"
cc -O1 -fno-toplevel-reorder -o "$T/prog2" "$T/prog2.c" || skip "cannot compile a test program"
OFF=$(grep -abo 'MSG=GOOD' "$T/prog" | head -1 | cut -d: -f1)
[ -n "$OFF" ] || fail "message not found in the test program"
# The message's verify block (64 KiB) must hold no code: the program must outlive the change.
[ "$OFF" -ge $((3 << 20)) ] || skip "the compiler placed the message at $OFF, not after the array"

L=$T/lower
mkdir -p "$L/opt" "$L/usr/lib"
cp "$T/prog" "$L/opt/prog"
cp "$T/prog2" "$L/opt/prog2"  # listed too: the other version of case 6
head -c 200000 /dev/urandom >"$L/usr/lib/libx.so"
cp "$L/usr/lib/libx.so" "$T/libx.orig"
dfs_manifest_store "$T/store" "$L" sp
M=$T/mnt
dfs_mount_fg "$L" "$M" "$T/log" "store=$T/store,loglevel=info"
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
chmod 755 "$T"  # the unprivileged reader reaches the mount through $T

put_back() {  # a fresh copy of the listed program (a new inode: nothing cached of it)
  cp "$T/prog" "$L/opt/prog.new"
  mv "$L/opt/prog.new" "$L/opt/prog"
  rm -f "$T/go" "$T/step"
  # Until the mount's name leads to the new inode (the watch drops the old entry), an open could
  # reach the previous case's file, which nothing here holds checked open.
  local want i
  want=$(stat -c %i "$L/opt/prog")
  for i in $(seq 100); do
    if [ "$(stat -c %i "$M/opt/prog")" = "$want" ]; then
      sleep 0.3  # the watch's report of the rename beneath comes within its 1 ms gathering
      return 0
    fi
    sleep 0.05
  done
  fail "the mount's /opt/prog did not lead to the new file within 5 s"
}
change_beneath() {
  python3 -c 'import os,sys
fd = os.open(sys.argv[1], os.O_WRONLY); os.pwrite(fd, b"MSG=EVIL", int(sys.argv[2])); os.close(fd)' \
    "$L/opt/prog" "$OFF"
}
# launch [refill]: a fresh listed program, started through the mount (with `refill`, case 2's
# reader opens the file first). Until 2026-12-07 an exec of the file just put back was seen to fail
# now and then, its first reads refused ("block 0 does not match its verified digest"; 1 run in
# 10-20 of this test; not reproduced since the message was moved out of the code's verify block,
# below, nor is its cause proven): such a start is said loudly and tried again, up to three times,
# so that the attacks below run against a running program.
launch() {
  local try
  for try in 1 2 3; do
    put_back
    RP=
    if [ "${1:-}" = refill ]; then
      $AS_NOBODY /usr/bin/python3 "$T/refill.py" "$M/opt/prog" "$OFF" "$T/step" >"$T/reader" 2>&1 &
      RP=$!
      sleep 0.3
    fi
    local logged
    logged=$(wc -l <"$T/log")
    "$M/opt/prog" "$T/go" >"$T/out" 2>&1 &
    P=$!
    for i in $(seq 50); do
      grep -q started "$T/out" 2>/dev/null && return 0
      kill -0 "$P" 2>/dev/null || break
      sleep 0.1
    done
    echo "RETRY: the listed program did not start (try $try): $(tr '\n' ' ' <"$T/out");" \
      "daemon: $(tail -n +$((logged + 1)) "$T/log" | grep -h refused | tail -2 | tr '\n' ' ')" >&2
    kill "$P" 2>/dev/null; wait "$P" 2>/dev/null
    if [ -n "$RP" ]; then touch "$T/step"; wait "$RP" 2>/dev/null; rm -f "$T/step"; fi
  done
  fail "the listed program did not start in 3 tries"
}

# running PID: the process has not exited (kill -0 alone also finds a child not yet waited for).
running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }

# program_run LABEL: lets the program go on, and checks what it printed.
program_run() {
  touch "$T/go"
  local rc=0
  wait "$P" || rc=$?
  grep -q EVIL "$T/out" && fail "$1: the running program was served the changed bytes ($(tr '\n' ' ' <"$T/out"))"
  echo "$1: program rc=$rc, printed: $(tr '\n' ' ' <"$T/out")"
}

# 1. A private mapping of an unappraised open fills the page the running program needs.
launch
change_beneath
$AS_NOBODY /usr/bin/python3 -c 'import mmap,sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
o = int(sys.argv[2]); print("reader saw", m[o:o + 8])' "$M/opt/prog" "$OFF" >"$T/reader" 2>&1 && rrc=0 || rrc=$?
echo "1: reader rc=$rrc: $(cat "$T/reader")"
# The program (its code unchanged) still holds its checked open: the reader's fill is checked.
running "$P" || fail "1: the program was gone before the reader's fill: $(cat "$T/out")"
grep -q EVIL "$T/reader" && fail "1: the unappraised reader was served the changed bytes"
# It ran: it saw the listed bytes, or its fill was refused (SIGBUS, 128 + 7).
grep -q "reader saw b'MSG=" "$T/reader" || [ "$rrc" = 135 ] || fail "1: the reader did not run"
program_run "1 (MAP_PRIVATE fill)"
pass "a private mapping's page fill is checked while the program runs"

# 2. A page-cache open made before the exec refills the pages with read(2).
cat >"$T/refill.py" <<'PY'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
o = int(sys.argv[2])
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
# A shared mapping of the page (never touched) and fadvise: with the build before this test, the
# pread below was then a page fill through this unchecked handle.
m = mmap.mmap(fd, 4096, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ, offset=o - o % 4096)
m.close()
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
try:
    print("reader read", os.pread(fd, 8, o))
except OSError as e:
    print("reader error", e.strerror)
PY
launch refill
change_beneath
touch "$T/step"
wait "$RP" || true
echo "2: $(cat "$T/reader")"
running "$P" || fail "2: the program was gone before the reader's refill: $(cat "$T/out")"
grep -q EVIL "$T/reader" && fail "2: the unappraised reader was served the changed bytes"
grep -q "reader read b'MSG=\|reader error Input/output error" "$T/reader" || fail "2: the reader did not run"
program_run "2 (read(2) refill by an earlier open)"
pass "read(2) refills of an open made before the exec are checked"

# 3. A writer through the mount fills pages a checked reader is then served.
python3 - "$M/usr/lib/libx.so" >"$T/w3" 2>&1 <<'PY' || true
import mmap, os, sys
r = os.open(sys.argv[1], os.O_RDONLY)        # appraised: block-checked
os.pread(r, 4096, 0)
w = os.open(sys.argv[1], os.O_RDWR)          # a writer: not checked
os.pwrite(w, b"WRITTEN!" * 512, 0)
try:
    print("before mapping", os.pread(r, 8, 0))
except OSError as e:
    print("before mapping error", e.strerror)
pid = os.fork()
if pid == 0:                                 # the writer's private mapping, faulted in a child
    m = mmap.mmap(w, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    print("writer mapping saw", m[0:8], flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("writer mapping status", status)
try:
    print("after mapping", os.pread(r, 8, 0))
except OSError as e:
    print("after mapping error", e.strerror)
PY
echo "3: $(tr '\n' ' ' <"$T/w3")"
grep -q "writer mapping status" "$T/w3" || fail "3: the writer's mapping did not run: $(cat "$T/w3")"
grep -q "after mapping b'WRITTEN" "$T/w3" &&
  fail "3: the checked reader was served bytes a writer's page fill brought in"
grep -q "after mapping error Input/output error" "$T/w3" ||
  fail "3: expected EIO for the checked reader after the writer's fill, got: $(cat "$T/w3")"
cp "$T/libx.orig" "$L/usr/lib/libx.so"
pass "a writer's page fill is checked while a checked reader holds the file"

# 5. copy_file_range(2) from a block-checked open after its bytes changed beneath: never copies
#    the changed bytes (the daemon's copy of the lower files passed them unchecked).
mkdir -p "$L/tmp" && chmod 1777 "$L/tmp"
python3 - "$M/usr/lib/libx.so" "$L/usr/lib/libx.so" "$M/tmp/copy" >"$T/c5" 2>&1 <<'PY' || true
import os, sys
r = os.open(sys.argv[1], os.O_RDONLY)        # appraised: block-checked
os.pread(r, 10, 0)
w = os.open(sys.argv[2], os.O_WRONLY)        # beneath the mount
os.pwrite(w, b"EVILEVIL", 70000)
os.close(w)
os.posix_fadvise(r, 0, 0, os.POSIX_FADV_DONTNEED)
out = os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    n = os.copy_file_range(r, out, 16, 70000, 0)
    print("copied", n, os.pread(os.open(sys.argv[3], os.O_RDONLY), 16, 0))
except OSError as e:
    print("copy error", e.strerror)
PY
echo "5: $(cat "$T/c5")"
grep -q "copied\|copy error" "$T/c5" || fail "5: the copy did not run: $(cat "$T/c5")"
grep -q EVIL "$T/c5" && fail "5: copy_file_range copied bytes changed beneath a block-checked open"
cp "$T/libx.orig" "$L/usr/lib/libx.so"
pass "copy_file_range from a block-checked open never copies bytes changed beneath"

# 6. Another listed content (prog2's) written beneath into the running program's inode; a second
#    exec of it is decided on that content and fills pages: the running program must never be
#    served them (each fill is checked against every version an open holds; a second review).
launch
cat "$T/prog2" >"$L/opt/prog"
touch "$T/exists"
"$M/opt/prog" "$T/exists" >"$T/out2" 2>&1 || true
echo "6: second exec printed: $(tr '\n' ' ' <"$T/out2")"
program_run "6 (another listed version beneath, exec'd again)"
grep -q "MSG=GOOD" "$T/out2" && fail "6: the second exec printed the first version's message"
pass "a second version of a running program's file cannot fill its pages"

# 4. Control: with nothing changed, an unappraised reader of a running listed program reads it
#    exactly (by mapping and by read(2)), and the program prints its listed message.
launch
$AS_NOBODY /usr/bin/python3 -c 'import mmap,sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
sys.stdout.buffer.write(m[:])' "$M/opt/prog" | cmp -s - "$T/prog" ||
  fail "4: an unchanged file mapped by an unappraised reader differs"
$AS_NOBODY cat "$M/opt/prog" | cmp -s - "$T/prog" || fail "4: an unchanged file read by an unappraised reader differs"
touch "$T/go"
wait "$P" || fail "4: the unchanged program failed: $(cat "$T/out")"
grep -q "MSG=GOOD-GOOD-GOOD" "$T/out" || fail "4: the unchanged program printed $(cat "$T/out")"
pass "enforce_shared_pages"
