#!/bin/bash
# An attacker inside the mount with write access to a listed program: opens it O_RDWR, maps it
# MAP_SHARED and writable, closes the descriptor and keeps the mapping. Natively (and through an
# enforcing mount) the kernel then refuses to execute the file (ETXTBSY) for as long as the mapping
# lives; once the mapping has written other bytes and is gone, the changed program is refused
# (EACCES: its content is no longer listed). Under kernel passthrough the FUSE file is released at
# close(2) while the mapping writes on to the lower file, and an exec through the mount succeeds
# (docs/mount.md, "Kernel passthrough"): this test fails if an enforcing mount ever serves a
# writer so. Run with verify=blocks (the default) and verify=open. About 5 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"

ef_key
s=$(ef_stage mapw)
mkdir -p "$s/usr/bin"
cp /bin/true "$s/usr/bin/mapw-true"
PKG=$(ef_package mapw 1.0 "$s")
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
"$DIGESTCTL" policy default > "$T/policy"

# Prints "<exec while mapped> <exec after the mapping wrote and was unmapped>", each "ok" or the
# errno name. Changes 8 bytes at offset 3000 (inside the first page; any change unlists the file).
mapped_writer() {
  python3 - "$1" <<'PY'
import ctypes, errno, os, subprocess, sys
path = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
def run():
    try:
        subprocess.run([path], check=True)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    except subprocess.CalledProcessError as e:
        return "exit%d" % e.returncode
# libc's mmap, not Python's mmap module: that one keeps a duplicate of the descriptor open.
fd = os.open(path, os.O_RDWR)
addr = libc.mmap(None, 4096, 3, 1, fd, 0)  # PROT_READ|PROT_WRITE, MAP_SHARED
if addr in (None, ctypes.c_void_p(-1).value):
    sys.exit("mmap: " + os.strerror(ctypes.get_errno()))
os.close(fd)
first = run()
page = (ctypes.c_ubyte * 4096).from_address(addr)
for i in range(3000, 3008):
    page[i] ^= 0xff
assert libc.msync(addr, 4096, 4) == 0  # MS_SYNC
assert libc.munmap(addr, 4096) == 0
print(first, run())
PY
}

# The native kernel's answer, on a copy outside any mount.
cp /bin/true "$T/native-true"
assert_eq "$(mapped_writer "$T/native-true")" "ETXTBSY ok" "natively: exec while mapped, exec after"
pass "natively: a program mapped shared and writable cannot be executed (ETXTBSY)"

for verify in blocks open; do
  cp "$ROOT/usr/bin/mapw-true" "$T/pristine"
  M=$T/mnt-$verify
  dfs_mount_fg "$ROOT" "$M" "$T/log-$verify" \
    "store=$T/store,policy=$T/policy,mode=enforce,verify=$verify,loglevel=info"
  assert_eq "$("$M/usr/bin/mapw-true" && echo ok)" ok "verify=$verify: the listed program runs"
  assert_eq "$(mapped_writer "$M/usr/bin/mapw-true")" "ETXTBSY EACCES" \
    "verify=$verify: exec while mapped, exec after the mapping changed it"
  cmp -s "$T/pristine" "$ROOT/usr/bin/mapw-true" &&
    fail "verify=$verify: the mapping's write did not reach the lower file"
  grep -q 'refused path="/usr/bin/mapw-true" op=exec' "$T/log-$verify" ||
    { cat "$T/log-$verify" >&2; fail "verify=$verify: no refusal line for the changed program"; }
  unmount "$M"
  cp "$T/pristine" "$ROOT/usr/bin/mapw-true"
  pass "verify=$verify: ETXTBSY while the writable mapping lives, EACCES once it changed the program"
done

# Control: the same attack through mode=off with kernel passthrough for every file, where the
# kernel offers it. The exec while mapped then succeeds: the check above can tell.
M=$T/mnt-off
dfs_mount_fg "$ROOT" "$M" "$T/log-off" "mode=off,passthrough=always,loglevel=info"
got=$(mapped_writer "$M/usr/bin/mapw-true")
unmount "$M"
if grep -q 'kernel_passthrough=offered' "$T/log-off"; then
  assert_eq "${got%% *}" ok "control, mode=off,passthrough=always: exec while mapped"
  pass "control: through kernel passthrough the exec while mapped succeeds (what the Gate must never allow)"
else
  echo "SKIPPED: control: the kernel offers no passthrough here (got: $got)"
fi
pass "enforce_mapped_writer"
