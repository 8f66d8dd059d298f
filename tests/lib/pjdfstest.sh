# tests/lib/pjdfstest.sh: run pjdfstest (POSIX conformance, from $SRC/../shared/peers, built by
# tests/lib/peers.sh) as root inside a mode=off digestfs mount (PJD_OPTS: its -o options,
# default mode=off). Source after common.sh, then
#   pjd_part NAME      # one of the parts below (checks that the parts cover every directory once)
#   pjd_run DIR...     # test directories of pjdfstest/tests (chmod, rename, ...), or "all"
# Fails the test with the failing files and assertions listed; passes with the counts.
# The full suite takes too long for one test under the 15-minute ctest timeout on a loaded
# machine, so tests/integration/fs_pjdfstest_{rename,files,meta}.sh each run one part.
need_root
need_fuse
need_cmd prove perl
[ -x "$DIGESTFS" ] || skip "digestfs not built"
. "$SRC/tests/lib/peers.sh"
dfs_peers || skip "peers not built (needs $SRC/../shared/peers, autoconf, automake, libtool)"

pjd_run() {
  local tests=$DFS_PEERS_OUT/pjdfstest/tests d dirs=()
  if [ "$1" = all ]; then
    dirs=("$tests")
  else
    for d in "$@"; do [ -d "$tests/$d" ] || fail "no pjdfstest directory $d"; dirs+=("$tests/$d"); done
  fi
  chmod 755 "$T"
  mkdir -p "$T/lower" "$T/mnt"
  local opts=${PJD_OPTS:-mode=off}
  dfs_mount "$T/lower" "$T/mnt" -o "$opts"
  local start=$SECONDS rc=0
  (cd "$T/mnt" && prove -r "${dirs[@]}") >"$T/prove.out" 2>&1 || rc=$?
  local took=$((SECONDS - start))
  local summary
  summary=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$T/prove.out" | sed 's/,  *[0-9]* wallclock.*//')
  if [ "$rc" != 0 ] || ! grep -q '^Result: PASS' "$T/prove.out"; then
    sed -n '/^Test Summary Report/,$p' "$T/prove.out" >&2
    grep -B2 -A2 '^not ok' "$T/prove.out" | head -40 >&2
    fail "pjdfstest ${*} on a $opts mount: failures (prove exit $rc; $summary; ${took}s)"
  fi
  pass "pjdfstest ${*} on a $opts mount: $summary, all passed (${took}s)"
}

PJD_PARTS=(rename files meta)
PJD_PART_rename="rename"
PJD_PART_files="open link unlink granular chflags ftruncate truncate posix_fallocate"
PJD_PART_meta="mkdir mkfifo mknod rmdir symlink chmod chown utimensat"

pjd_part() {
  local all="" p d v
  for p in "${PJD_PARTS[@]}"; do v=PJD_PART_$p; all+=" ${!v}"; done
  for d in $(cd "$DFS_PEERS_OUT/pjdfstest/tests" && ls -d */ | tr -d /); do
    [ "$d" = conf ] && continue
    [ "$(echo $all | tr ' ' '\n' | grep -cx "$d")" = 1 ] || fail "pjdfstest directory $d is not in exactly one part"
  done
  v=PJD_PART_$1
  [ -n "${!v:-}" ] || fail "no pjdfstest part $1"
  pjd_run ${!v}
}
