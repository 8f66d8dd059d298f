#!/bin/bash
# SIGHUP reloads the policy under load (issue 13, "Reload"). While a background loop keeps opening
# a listed file (it must never fail), the policy file is switched between A (appraise reads under
# /usr) and B (appraise reads under /opt) and SIGHUP sent: an unlisted file under /usr is refused
# under A and served under B, one under /opt the reverse, three times over. A malformed policy is
# refused with a log line naming the file and line, and the previous policy stays in force. A
# store import while mounted takes effect at the next open without any reload.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd openssl
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
G=$T/lower
mkdir -p "$G/usr/lib/app" "$G/opt"
echo "listed" >"$G/usr/lib/app/listed"
dfs_manifest_store "$S" "$G" app
echo "unlisted usr" >"$G/usr/lib/app/unlisted"
echo "unlisted opt" >"$G/opt/unlisted"
P=$T/digestfs.policy
policy_a() { echo 'appraise op=read path=/usr/**' >"$P"; }
policy_b() { echo 'appraise op=read path=/opt/**' >"$P"; }
policy_a
M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$G" "$M" "$T/log" "store=$S,policy=$P"
PID=$DFS_PID

# The load: opens of a listed file, allowed under every policy, never failing.
(while [ ! -e "$T/stop" ]; do
   cat "$M/usr/lib/app/listed" >/dev/null 2>>"$T/load-errors" || echo "open failed" >>"$T/load-errors"
 done) &
LOAD=$!
at_exit "touch '$T/stop'; wait $LOAD 2>/dev/null"

reloads() { grep -c 'event=policy_reloaded' "$T/log" || true; }
hup() {  # sends SIGHUP and waits for the daemon to log the outcome
  local before=$(grep -c 'event=policy_reload' "$T/log" || true)
  kill -HUP "$PID"
  for i in $(seq 50); do
    [ "$(grep -c 'event=policy_reload' "$T/log" || true)" -gt "$before" ] && return 0
    sleep 0.1
  done
  fail "no reload logged after SIGHUP: $(tail -5 "$T/log")"
}
serves() { cat "$M/$1" >/dev/null 2>&1; }
expect_a() {
  serves usr/lib/app/unlisted && fail "$1: /usr/lib/app/unlisted served under policy A"
  serves opt/unlisted || fail "$1: /opt/unlisted refused under policy A"
  return 0
}
expect_b() {
  serves usr/lib/app/unlisted || fail "$1: /usr/lib/app/unlisted refused under policy B"
  serves opt/unlisted && fail "$1: /opt/unlisted served under policy B"
  return 0
}
expect_a "at mount"
for round in 1 2 3; do
  policy_b; hup; expect_b "round $round, after reload to B"
  policy_a; hup; expect_a "round $round, after reload to A"
done
assert_eq "$(reloads)" 6 "reloads logged"
kill -0 "$PID" || fail "the daemon ended on SIGHUP"
mountpoint -q "$M" || fail "SIGHUP unmounted"
pass "SIGHUP switches A -> B -> A three times under load: each verdict follows the new policy"

# A malformed policy: refused, named in the log, the old one (A) stays.
printf 'appraise op=read path=/opt/**\nappraise path=relative\n' >"$P"
hup
grep -q "event=policy_reload_refused policy=\"$P\" reason=\"INVALID_ARGUMENT: $P:2:" "$T/log" ||
  fail "the refused reload does not name the file and line: $(grep policy_reload "$T/log" | tail -2)"
assert_eq "$(reloads)" 6 "reloads after a malformed policy"
expect_a "after a malformed policy"
pass "a malformed policy is refused with FILE:LINE logged; the previous policy stays in force"

# A store import takes effect live, without a reload.
echo "new content" >"$G/usr/lib/app/new"
serves usr/lib/app/new && fail "an unimported file is served"
mkdir -p "$T/stage/usr/lib/app"
cp "$G/usr/lib/app/new" "$T/stage/usr/lib/app/new"
dctl manifest create "$T/stage" --key "$T/k.key" --cert "$T/k.crt" -o "$T/m2" --name app-new >/dev/null || fail "manifest create (new)"
dctl import manifest "$T/m2" >/dev/null || fail "import manifest while mounted"
serves usr/lib/app/new || fail "a file imported while mounted is still refused"
pass "a store import while mounted takes effect at the next open"

touch "$T/stop"; wait "$LOAD" 2>/dev/null || true
[ ! -s "$T/load-errors" ] || fail "the open loop failed during reloads: $(head -3 "$T/load-errors")"
n=$(grep -c . "$T/log" || true)
pass "the listed file never failed to open during 7 reloads ($n log lines)"
