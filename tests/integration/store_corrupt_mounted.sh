#!/bin/bash
# A store damaged while mounted (docs/store-format.md, "A damaged store under a mount"): random
# bytes over the first 8 KiB of data.mdb (both LMDB meta pages), then data.mdb truncated to 0.
# Each time, opens that need the store fail closed (EACCES) with a log line naming the store, the
# mount stays alive (no ENOTCONN, the daemon runs), and once the file is put back the mount
# decides as before without a remount. digestctl on the damaged store exits 3 (the store cannot be used) with an error naming
# data.mdb (no crash). Before the fix the daemon died in liblmdb (SIGSEGV/SIGBUS) and the mount
# answered ENOTCONN.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd openssl
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=dfs corrupt" -keyout "$T/k.key" -out "$T/k.crt" 2>/dev/null || fail "openssl req"
G=$T/lower
mkdir -p "$G/usr/lib/app"
for i in $(seq 1 20); do echo "listed $i" >"$G/usr/lib/app/f$i"; done
dctl init >/dev/null
dctl keys add "$T/k.crt" >/dev/null
dctl manifest create "$G" --key "$T/k.key" --cert "$T/k.crt" -o "$T/m" --name app >/dev/null || fail "manifest create"
dctl import manifest "$T/m" >/dev/null || fail "import manifest"
echo "unlisted" >"$G/usr/lib/app/unlisted"
D=$S/data.mdb
cp "$D" "$T/data.good"

M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$G" "$M" "$T/log" "store=$S,mode=enforce,loglevel=info,timeout=0"
PID=$DFS_PID

alive() {  # WHAT
  kill -0 "$PID" 2>/dev/null || { tail -20 "$T/log" >&2; fail "the daemon died ($1)"; }
  stat "$M/usr/lib/app" >/dev/null 2>"$T/stat.err" || { cat "$T/stat.err" >&2; fail "the mount is gone ($1)"; }
}
# The file's content or the error message of cat.
rd() { cat "$M/usr/lib/app/$1" 2>&1 || true; }
assert_eq "$(rd f1)" "listed 1" "a listed file before any damage"
out=$(rd unlisted); case $out in *"Permission denied"*) ;; *) fail "unlisted file not refused: $out" ;; esac
pass "mounted: listed allowed, unlisted refused"

# Every decision needs the store: a file verified before (cached verdict) and one never opened.
refused_all() {  # WHAT
  local f out
  for f in f1 f2 f3; do
    out=$(rd "$f")
    case $out in
      *"Permission denied"* | *"Input/output error"*) ;;
      *) fail "$1: usr/lib/app/$f gave '$out', expected EACCES or EIO" ;;
    esac
  done
}
recovered() {  # WHAT
  local i
  for i in 1 4 5; do assert_eq "$(rd f$i)" "listed $i" "$1: listed file f$i"; done
  case $(rd unlisted) in *"Permission denied"*) ;; *) fail "$1: unlisted file not refused" ;; esac
}

# 1. Random bytes over both meta pages.
dd if=/dev/urandom of="$D" bs=4096 count=2 conv=notrunc status=none
refused_all "meta pages overwritten"
alive "meta pages overwritten"
grep -q "store_damaged store=\"$S\"" "$T/log" || { tail "$T/log" >&2; fail "no log line naming the damaged store"; }
rc=0; dctl stats >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 3 "digestctl stats on a store with damaged meta pages (3: the store cannot be used)"
grep -q "data.mdb" "$T/err" || fail "digestctl's error does not name data.mdb: $(cat "$T/err")"
pass "meta pages overwritten: opens refused, mount alive, logged; digestctl exits 3 naming data.mdb"

cat "$T/data.good" >"$D"   # put back in place (same inode)
recovered "meta pages put back"
grep -q "store_recovered store=\"$S\"" "$T/log" || fail "no log line for the recovery"
pass "meta pages put back: decisions as before, without a remount"

# 2. Truncated to 0 while mapped (an access past the end of a mapped file is SIGBUS).
truncate -s 0 "$D"
refused_all "data.mdb truncated to 0"
alive "data.mdb truncated to 0"
rc=0; dctl list >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 3 "digestctl list on a truncated store"
grep -q "data.mdb is truncated" "$T/err" || fail "digestctl's error: $(cat "$T/err")"
# A shorter file than the meta pages say (half of it): the same.
head -c $(( $(stat -c %s "$T/data.good") / 2 )) "$T/data.good" >"$D"
refused_all "data.mdb cut in half"
alive "data.mdb cut in half"
pass "truncated (to 0, to half): opens refused, mount alive; digestctl exits 3"

cat "$T/data.good" >"$D"
recovered "truncated store put back"
alive "after recovery"
pass "truncated store put back: decisions as before"

# 3. A store replaced by a new one (moved away, init and import again): a remount uses it.
truncate -s 0 "$D"
mv "$S" "$T/store.bad"
dctl init >/dev/null && dctl keys add "$T/k.crt" >/dev/null && dctl import manifest "$T/m" >/dev/null || fail "re-import"
alive "store replaced"
unmount "$M"; wait "$PID" 2>/dev/null
rc=$(grep -c "Segmentation\|Bus error" "$T/log" || true)
assert_eq "$rc" 0 "crash messages in the log"
dfs_mount_fg "$G" "$M" "$T/log2" "store=$S,mode=enforce,loglevel=info,timeout=0"
PID=$DFS_PID
recovered "remounted on the re-imported store"
pass "a remount on the re-imported store decides as before"
