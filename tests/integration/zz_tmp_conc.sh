#!/bin/bash
# Concurrent opens while a writer changes the file through the mount. The writer alternates the
# file between listed content A and unlisted content B (same size). With verify=blocks every read
# that succeeds returns exactly A (never B, never a mix); with verify=open every open is decided on
# the content present at open, and when the writer stops the verdict follows the final content.
# Also: many concurrent first opens of one large listed file all succeed.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"

ef_key
s=$(ef_stage data)
mkdir -p "$s/usr/lib/data"
head -c 393216 /dev/urandom >"$T/A"             # 384 KiB: six 64 KiB blocks
head -c 393216 /dev/urandom >"$T/B"
head -c 67108864 /dev/urandom >"$s/usr/lib/data/big"  # 64 MiB, for concurrent first opens
cp "$T/A" "$s/usr/lib/data/file"
PKG=$(ef_package data 1.0 "$s")
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
printf 'appraise op=read path=/usr/**\n' >"$T/policy"

mount_dfs() {  # MNT LOG OPTIONS
  local mnt=$1 log=$2 opts=$3
  mkdir -p "$mnt"
  "$DIGESTFS" "$ROOT" "$mnt" -f -o "$opts" 2>"$log" &
  local pid=$!
  at_exit "unmount '$mnt'; wait $pid 2>/dev/null"
  wait_mounted "$mnt"
}

writer() {  # MNT ROUNDS: rewrites the file through the mount, A and B alternately, ending on $3
  local m=$1 rounds=$2 last=$3 i
  for ((i = 0; i < rounds; i++)); do
    cat "$T/B" >"$m/usr/lib/data/file"
    cat "$T/A" >"$m/usr/lib/data/file"
  done
  cat "$T/$last" >"$m/usr/lib/data/file"
}
reader() {  # MNT ID ROUNDS: counts reads that returned A, were refused, or returned anything else
  local m=$1 id=$2 rounds=$3 i ok=0 refused=0 wrong=0
  for ((i = 0; i < rounds; i++)); do
    if cat "$m/usr/lib/data/file" >"$T/r$id" 2>/dev/null; then
      if cmp -s "$T/r$id" "$T/A"; then ok=$((ok + 1)); else wrong=$((wrong + 1)); sz=$(stat -c %s "$T/r$id"); if cmp -s "$T/r$id" <(head -c $sz "$T/A"); then echo "prefix $sz" >> /tmp/blocks-wrong; else echo "OTHER $sz" >> /tmp/blocks-wrong; fi; fi
    else
      refused=$((refused + 1))
    fi
  done
  echo "$ok $refused $wrong" >"$T/reader$id"
}

for verify in blocks; do
  M=$T/mnt-$verify
  mount_dfs "$M" "$T/log-$verify" "store=$T/store,policy=$T/policy,verify=$verify"
  cmp -s "$M/usr/lib/data/file" "$T/A" || { cat "$T/log-$verify" >&2; fail "verify=$verify: listed file not served"; }
  writer "$M" 150 B &
  wpid=$!
  pids=()
  for id in 1 2 3; do reader "$M" "$id" 300 & pids+=($!); done
  wait $wpid || fail "verify=$verify: the writer failed"
  for p in "${pids[@]}"; do wait "$p"; done
  ok=0 refused=0 wrong=0
  for id in 1 2 3; do
    read -r a b c <"$T/reader$id"
    ok=$((ok + a)); refused=$((refused + b)); wrong=$((wrong + c))
  done
  echo "verify=$verify: $ok reads returned A, $refused were refused, $wrong returned other bytes"
  # verify=blocks needs every read to reach the daemon (CheckRead): fs/ must open such files with
  # direct_io, or the kernel serves bytes a writer put in its page cache after the check.
  if [ "$verify" = blocks ]; then
    assert_eq "$wrong" 0 "verify=blocks: reads that returned bytes other than the listed content"
  fi
  [ $((ok + refused + wrong)) -eq 900 ] || fail "verify=$verify: reads lost"
  # The final content (B, unlisted) is refused; A written back is served again.
  cat "$M/usr/lib/data/file" >/dev/null 2>&1 && fail "verify=$verify: unlisted final content served"
  cat "$T/A" >"$M/usr/lib/data/file"
  cmp -s "$M/usr/lib/data/file" "$T/A" || fail "verify=$verify: listed content written back refused"
  cat "$T/B" >"$M/usr/lib/data/file"
  cat "$T/A" >"$M/usr/lib/data/file"

  # Concurrent first opens of a large listed file: all succeed (they share one hash).
  pids=()
  for id in 1 2 3 4 5 6 7 8; do cmp -s "$M/usr/lib/data/big" "$ROOT/usr/lib/data/big" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || fail "verify=$verify: a concurrent first open of a listed file failed"; done
  unmount "$M"
  pass "verify=$verify: concurrent opens while a writer changes the file"
done
