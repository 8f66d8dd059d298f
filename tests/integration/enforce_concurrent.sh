#!/bin/bash
# Concurrent opens while a writer changes the file through the mount. The writer alternates the
# file between listed content A and unlisted content B (same size). With verify=blocks every read
# that succeeds returns A or a prefix of it (the writer truncates; never a byte of B); with
# verify=open every open is decided on the content present at open, and when the writer stops the
# verdict follows the final content.
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
  dfs_mount_fg "$ROOT" "$mnt" "$log" "$opts"
}

writer() {  # MNT ROUNDS: rewrites the file through the mount, A and B alternately, ending on $3
  local m=$1 rounds=$2 last=$3 i
  for ((i = 0; i < rounds; i++)); do
    cat "$T/B" >"$m/usr/lib/data/file"
    cat "$T/A" >"$m/usr/lib/data/file"
  done
  cat "$T/$last" >"$m/usr/lib/data/file"
}
reader() {  # MNT ID ROUNDS: counts reads that returned A, were refused, returned a proper prefix
  # of A (the file truncated through the mount by the writer's O_TRUNC), or anything else
  local m=$1 id=$2 rounds=$3 i ok=0 refused=0 short=0 wrong=0 n
  for ((i = 0; i < rounds; i++)); do
    if cat "$m/usr/lib/data/file" >"$T/r$id" 2>/dev/null; then
      if cmp -s "$T/r$id" "$T/A"; then
        ok=$((ok + 1))
      else
        n=$(stat -c %s "$T/r$id")
        if cmp -s "$T/r$id" <(head -c "$n" "$T/A"); then short=$((short + 1)); else wrong=$((wrong + 1)); fi
      fi
    else
      refused=$((refused + 1))
    fi
  done
  echo "$ok $refused $short $wrong" >"$T/reader$id"
}

for verify in blocks open; do
  M=$T/mnt-$verify
  mount_dfs "$M" "$T/log-$verify" "store=$T/store,policy=$T/policy,verify=$verify"
  cmp -s "$M/usr/lib/data/file" "$T/A" || { cat "$T/log-$verify" >&2; fail "verify=$verify: listed file not served"; }
  writer "$M" 150 B &
  wpid=$!
  pids=()
  for id in 1 2 3; do reader "$M" "$id" 300 & pids+=($!); done
  wait $wpid || fail "verify=$verify: the writer failed"
  for p in "${pids[@]}"; do wait "$p"; done
  ok=0 refused=0 short=0 wrong=0
  for id in 1 2 3; do
    read -r a b c d <"$T/reader$id"
    ok=$((ok + a)); refused=$((refused + b)); short=$((short + c)); wrong=$((wrong + d))
  done
  echo "verify=$verify: $ok reads returned A, $refused were refused, $short a prefix of A, $wrong other bytes"
  # verify=blocks: a reader is served only verified bytes. Its page fills are checked; while a
  # writer is open, block-checked opens are direct_io, and a writer opened while block-checked
  # readers are open is direct_io (its writes drop the pages they cover). The writer's O_TRUNC
  # tells the kernel the new size, so a reader may see A cut short: never a byte of B.
  if [ "$verify" = blocks ]; then
    assert_eq "$wrong" 0 "verify=blocks: reads that returned bytes other than (a prefix of) the listed content"
  fi
  [ $((ok + refused + short + wrong)) -eq 900 ] || fail "verify=$verify: reads lost"
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
