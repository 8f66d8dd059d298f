#!/bin/bash
# Mutable re-trust cannot grow the store without bound (issue 14 item 7, issue 15 item 4):
# 1. with the default policy, 2000 files written in /tmp and /var/tmp through an enforce mount add
#    no store record and no generation (/tmp is not mutable any more; it was: 2000 records, 2000
#    generations);
# 2. a policy with a mutable scratch tree and retrust_max=20: 50 new files there make 20 local
#    records, logged once as retrust_limit_reached; a path re-trusted before is still re-trusted
#    after the limit (its record is replaced, not added).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd openssl jq
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=dfs retrust" -keyout "$T/k.key" -out "$T/k.crt" 2>/dev/null || fail "openssl req"
G=$T/lower
mkdir -p "$G/usr/lib/app" "$G/tmp" "$G/var/tmp" "$G/scratch"
chmod 1777 "$G/tmp" "$G/var/tmp"
echo "listed" >"$G/usr/lib/app/f"
dctl init >/dev/null
dctl keys add "$T/k.crt" >/dev/null
dctl manifest create "$G" --key "$T/k.key" --cert "$T/k.crt" -o "$T/m" --name app >/dev/null || fail "manifest create"
dctl import manifest "$T/m" >/dev/null || fail "import manifest"
gen() { dctl --json stats | jq -r .generation; }
locals() { dctl --json stats | jq -r '.active_sources_per_kind.local // 0'; }

M=$T/mnt
mount_fg() {  # LOG OPTIONS
  mkdir -p "$M"
  dfs_mount_fg "$G" "$M" "$1" "$2"
  PID=$DFS_PID
}

# 1. The default policy.
mount_fg "$T/log1" "store=$S,mode=enforce,loglevel=info"
g0=$(gen)
for i in $(seq 1 1000); do echo "scratch $i" >"$M/tmp/s$i"; echo "vtmp $i" >"$M/var/tmp/v$i"; done
cat "$M/tmp/s1" "$M/var/tmp/v1000" >/dev/null || fail "files written in /tmp cannot be read back"
unmount "$M"; wait "$PID" 2>/dev/null || true
assert_eq "$(gen)" "$g0" "store generation after 2000 files written in /tmp and /var/tmp"
assert_eq "$(locals)" 0 "local records after 2000 files written in /tmp and /var/tmp"
pass "default policy: 2000 files in /tmp and /var/tmp add no store record or generation"

# 2. A mutable tree with a limit.
cat >"$T/policy" <<'P'
appraise op=exec
appraise op=read path=/usr/**
audit op=read path=/scratch/** mutable
P
mount_fg "$T/log2" "store=$S,mode=enforce,loglevel=info,policy=$T/policy,retrust_max=20"
for i in $(seq 1 50); do echo "new $i" >"$M/scratch/n$i"; done
echo "changed 1" >"$M/scratch/n1"   # re-trusted before the limit: still re-trusted
cat "$M/scratch/n1" >/dev/null
unmount "$M"; wait "$PID" 2>/dev/null || true
assert_eq "$(locals)" 20 "local records with retrust_max=20 after 50 new files"
assert_eq "$(grep -c retrust_limit_reached "$T/log2")" 1 "retrust_limit_reached log lines"
grep retrust_limit_reached "$T/log2" | grep -q "limit=20" || fail "the log line lacks the limit: $(grep retrust_limit "$T/log2")"
want=sha256:$(printf 'changed 1\n' | sha256sum | cut -d' ' -f1)
dctl --json dump | jq -s -e --arg d "$want" 'any(.[]; .type == "file" and .path == "/scratch/n1" and .digest == $d)' >/dev/null ||
  fail "/scratch/n1 (re-trusted before the limit) was not re-trusted after it"
pass "retrust_max=20: 20 local records for 50 files, logged once; earlier paths still re-trusted"
