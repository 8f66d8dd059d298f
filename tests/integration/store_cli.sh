#!/bin/bash
# digestctl's store commands against real stores: a fresh one, a copy of the golden v1 store,
# a truncated one and one with a newer schema; exit codes per docs/cli-store.md.
. "$(dirname "$0")/../lib/common.sh" "$@"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
need_cmd python3 sha256sum
export DIGESTCTL_LOGLEVEL=warn

# expect_rc CODE CMD...: runs CMD, output to $T/out and $T/err, and checks its exit code.
expect_rc() {
  local want=$1; shift
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$* exited $rc, expected $want"; }
}
ctl() { "$DIGESTCTL" --store "$S" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <"$T/out"; }

# --- a fresh store
S=$T/fresh
expect_rc 3 ctl stats
grep -q "does not exist" "$T/err" || fail "missing store message: $(cat "$T/err")"
expect_rc 0 ctl init
expect_rc 0 ctl init
expect_rc 0 ctl --json stats
assert_eq "$(json 'd["digests"]')" 0 "digests in a fresh store"
g0=$(json 'd["generation"]')
pass "fresh store: init twice, stats"

echo "some content" >"$T/file"
h=$(sha256sum "$T/file" | cut -c1-64)
expect_rc 1 ctl lookup "$T/file"
grep -q ": unknown" "$T/out" || fail "lookup of an unknown file: $(cat "$T/out")"
expect_rc 1 ctl --json lookup --digest "sha256:$h"
assert_eq "$(json 'd["verdict"]')" unknown "verdict"
expect_rc 2 ctl lookup --digest "sha256:1234"
expect_rc 2 ctl lookup --digest "sha999:00"
expect_rc 2 ctl lookup
expect_rc 2 ctl lookup "$T/file" --algo nope
expect_rc 5 ctl lookup "$T/nonexistent"
ln -s "$T/file" "$T/link"
expect_rc 5 ctl lookup "$T/link"
pass "lookup exit codes"

expect_rc 0 ctl deny add "sha256:$h" --reason "test entry"
expect_rc 1 ctl --json lookup "$T/file"
assert_eq "$(json 'd["verdict"]')" denied "verdict after deny add"
expect_rc 0 ctl --json deny list
assert_eq "$(json 'd[0]["reason"]')" "test entry" "deny reason"
expect_rc 0 ctl deny remove "sha256:$h"
expect_rc 1 ctl deny remove "sha256:$h"
expect_rc 2 ctl deny add "sha256:zz"
expect_rc 2 ctl deny
expect_rc 1 ctl remove no-such-source
expect_rc 0 ctl --json stats
g1=$(json 'd["generation"]')
[ "$g1" -gt "$g0" ] || fail "generation did not move ($g0 -> $g1)"
pass "deny add/list/remove, generation $g0 -> $g1"

# --- the golden v1 store (contents: tests/golden/store/fixture_v1.h)
S=$T/golden
mkdir -p "$S"
cp "$SRC/tests/golden/store/v1/data.mdb" "$S/"
printf 'hello 2.0' >"$T/hello"
expect_rc 0 ctl lookup "$T/hello"
grep -q '"/usr/bin/hello"' "$T/out" || fail "provenance path: $(cat "$T/out")"
grep -q 'hello-2.0-1.x86_64' "$T/out" || fail "provenance source: $(cat "$T/out")"
printf 'hello 1.0' >"$T/hello1"
expect_rc 1 ctl lookup "$T/hello1"   # superseded by 2.0
expect_rc 0 ctl --json lookup --digest "sha256:$(printf 'GPL text' | sha256sum | cut -c1-64)"
assert_eq "$(json 'len(d["provenance"])')" 2 "a digest shipped by two packages"
expect_rc 0 ctl --json list
assert_eq "$(json 'len(d)')" 4 "active sources"
expect_rc 0 ctl --json list --all
assert_eq "$(json '[s["state"] for s in d]')" "['superseded', 'active', 'active', 'active', 'removed', 'active']" "states"
expect_rc 0 ctl --json stats
assert_eq "$(json 'd["digests_per_algo"]')" "{'sha256': 5, 'sha384': 1}" "digests per algorithm"
assert_eq "$(json 'd["active_sources_per_kind"]')" "{'local': 1, 'rpm': 2, 'tlv': 1}" "sources per kind"
expect_rc 0 ctl dump
python3 - "$T/out" <<'PY' || fail "dump is not valid JSON lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
kinds = [l["type"] for l in lines]
assert kinds[0] == "store" and kinds.count("source") == 6 and kinds.count("file") == 10 and kinds.count("deny") == 1, kinds
PY
expect_rc 0 ctl remove hello-2.0-1.x86_64
expect_rc 1 ctl lookup "$T/hello"
expect_rc 0 ctl remove 2       # already removed: still 0
pass "golden store: lookup, list, stats, dump, remove"

# --- many CLI writers and readers at once
for i in $(seq 1 4); do
  ( for j in $(seq 1 15); do
      ctl deny add "sha256:$(printf 'w%s-%s' $i $j | sha256sum | cut -c1-64)" >/dev/null || exit 1
      rc=0; ctl lookup "$T/hello" >/dev/null 2>&1 || rc=$?
      [ "$rc" -le 1 ] || exit 1
    done ) &
done
ok=1
for p in $(jobs -p); do wait "$p" || ok=0; done
[ "$ok" = 1 ] || fail "a concurrent digestctl failed"
expect_rc 0 ctl --json stats
assert_eq "$(json 'd["deny_entries"]')" 61 "deny entries after concurrent adds"
pass "4 concurrent CLI writers"

# --- damaged stores
S=$T/trunc
mkdir -p "$S"
head -c 20000 "$SRC/tests/golden/store/v1/data.mdb" >"$S/data.mdb"
expect_rc 3 ctl stats
grep -q "CORRUPT" "$T/err" && grep -q "data.mdb" "$T/err" || fail "truncated store message: $(cat "$T/err")"
expect_rc 3 ctl lookup --digest "sha256:$h"
S=$T/garbage
mkdir -p "$S"
head -c 65536 /dev/urandom >"$S/data.mdb"
expect_rc 3 ctl stats
pass "truncated and garbage stores: exit 3"

if command -v mdb_load >/dev/null; then
  S=$T/newer
  mkdir -p "$S"
  cp "$SRC/tests/golden/store/v2/data.mdb" "$S/"
  printf 'schema\n\\03\\00\\00\\00\n' | mdb_load -T -s meta "$S"
  expect_rc 3 ctl stats
  grep -q "VERSION.*schema version 3" "$T/err" || fail "newer schema message: $(cat "$T/err")"
  pass "newer schema: exit 3 with a clear message"
fi
echo "store_cli: all passed"
