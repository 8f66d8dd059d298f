#!/bin/bash
# The daemon's counters (issue 13, "Watch"): a mount with status_interval=0 does known work -- 20
# opens of a listed file, 7 refused opens of an unlisted one, so 2 files and 1500 bytes hashed --
# and after SIGUSR1 the runtime status file, read by `digestctl status MNT --json`, holds exactly
# those numbers (before the signal it still holds the zeros written at mount). `--prometheus`
# output parses as the textfile format (every sample after its family's TYPE, valid names, the
# mount point as an escaped label), `--prometheus=FILE` writes the same, `digestctl status` with
# no argument lists the mount as running, and once the daemon is killed it says GONE, exits 1 and
# prints a command that detaches the dead mount (run here as printed).
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd openssl jq python3 fusermount3 findmnt
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"

S=$T/store
dctl() { "$DIGESTCTL" --store "$S" "$@"; }
G=$T/lower
mkdir -p "$G/usr/lib/app"
head -c 1000 /dev/urandom >"$G/usr/lib/app/listed"
dfs_manifest_store "$S" "$G" app
head -c 500 /dev/urandom >"$G/usr/lib/app/unlisted"
echo 'appraise op=read path=/usr/**' >"$T/policy"
# A mount point whose name needs escaping in a Prometheus label.
M="$T/mnt \"q\""
mkdir -p "$M"
dfs_mount_fg "$G" "$M" "$T/log" "store=$S,policy=$T/policy,status_interval=0"
PID=$DFS_PID

st() { "$DIGESTCTL" status "$M" --json; }
c() { st | jq -r ".daemon.counters.$1"; }
assert_eq "$(c opens)" 0 "opens published at mount"
for i in $(seq 20); do cat "$M/usr/lib/app/listed" >/dev/null || fail "listed file refused"; done
for i in $(seq 7); do
  if cat "$M/usr/lib/app/unlisted" >/dev/null 2>&1; then fail "unlisted file served"; fi
done
assert_eq "$(c opens)" 0 "counters rewritten without a signal (status_interval=0)"
kill -USR1 "$PID"
for i in $(seq 50); do [ "$(c opens)" = 27 ] && break; sleep 0.1; done
st >"$T/status.json"
j() { jq -r "$1" "$T/status.json"; }
assert_eq "$(j .daemon.counters.opens)" 27 "opens after SIGUSR1"
assert_eq "$(j .daemon.counters.refusals)" 7 "refusals"
assert_eq "$(j .daemon.counters.files_hashed)" 2 "files hashed"
assert_eq "$(j .daemon.counters.bytes_hashed)" 1500 "bytes hashed"
assert_eq "$(j .daemon.counters.cache_entries)" 2 "verdict cache entries"
assert_eq "$(j .daemon.counters.measurements)" 0 "measurements"
assert_eq "$(j .daemon.counters.tpm_errors)" 0 "TPM errors"
[ "$(j .daemon.fuse_requests.open)" -ge 27 ] || fail "FUSE open requests: $(j .daemon.fuse_requests)"
[ "$(j .daemon.fuse_requests.lookup)" -ge 1 ] || fail "FUSE lookups: $(j .daemon.fuse_requests)"
[ "$(j .daemon.uptime_seconds)" -ge 0 ] || fail "uptime"
"$DIGESTCTL" status "$M" >"$T/status.txt" || fail "digestctl status (text)"
grep -Eq '^  opens +27$' "$T/status.txt" || fail "text status lacks the counters: $(cat "$T/status.txt")"
pass "counters after SIGUSR1 match the work done (27 opens, 7 refusals, 2 files / 1500 bytes hashed)"

# --prometheus: the textfile format.
"$DIGESTCTL" status "$M" --prometheus >"$T/prom" || fail "status --prometheus"
python3 - "$T/prom" "$M" <<'PY' || fail "--prometheus output: $(cat "$T/prom")"
import re, sys
text = open(sys.argv[1]).read()
mnt = sys.argv[2]
name_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
typed, helped, samples = {}, set(), {}
for line in text.splitlines():
    if line.startswith('# HELP '):
        helped.add(line.split()[2]); continue
    if line.startswith('# TYPE '):
        _, _, n, t = line.split(' ', 3)
        assert t in ('counter', 'gauge'), line
        assert n not in typed, 'TYPE twice: ' + line
        typed[n] = t; continue
    m = re.match(r'^([^{ ]+)\{(.*)\} (\d+)$', line)
    assert m, 'bad sample line: ' + line
    n, labels, v = m.groups()
    assert name_re.match(n), 'bad name ' + n
    assert n in typed and n in helped, 'sample before its TYPE/HELP: ' + line
    assert not typed[n] == 'counter' or n.endswith('_total'), 'counter without _total: ' + n
    lab = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
    un = lab['mountpoint'].replace('\\"', '"').replace('\\n', '\n').replace('\\\\', '\\')
    assert un == mnt, 'mountpoint label %r != %r' % (un, mnt)
    samples[(n, lab.get('op'))] = int(v)
assert samples[('digestfs_opens_total', None)] == 27, samples
assert samples[('digestfs_refusals_total', None)] == 7
assert samples[('digestfs_bytes_hashed_total', None)] == 1500
assert samples[('digestfs_up', None)] == 1
assert samples[('digestfs_fuse_requests_total', 'open')] >= 27
PY
"$DIGESTCTL" status "$M" --prometheus="$T/textfile.prom" || fail "status --prometheus=FILE"
cmp -s <(grep -v uptime "$T/prom") <(grep -v uptime "$T/textfile.prom") || fail "--prometheus=FILE differs from stdout"
ls "$T"/textfile.prom.tmp* 2>/dev/null && fail "a temp file was left"
pass "--prometheus parses as the textfile format; --prometheus=FILE writes the same"

# Every mount on the host.
"$DIGESTCTL" status >"$T/all" || true
grep -F 'mnt \x22q\x22' "$T/all" | grep -q running ||
  fail "status without an argument does not list the mount as running: $(cat "$T/all")"
# Other digestfs mounts on the host (one whose daemon died, say) make the all-mounts forms exit 1;
# only this mount's entry is checked.
{ "$DIGESTCTL" status --json || true; } | jq -e --arg m "$M" 'map(select(.mountpoint == $m and .daemon_alive)) | length == 1' >/dev/null ||
  fail "status --json without an argument lacks the mount"
pass "digestctl status with no argument lists the mount"

# A daemon that is gone: the mount stays (ENOTCONN), status says so and exits 1.
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
# The killed daemon cannot remove its status file; the test does, also when a check below fails.
at_exit "rm -f /run/digestfs/$(jq -r .device "$T/status.json").json"
rc=0; "$DIGESTCTL" status "$M" >"$T/gone" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit code of status for a mount whose daemon is gone"
grep -q GONE "$T/gone" || fail "status does not say GONE: $(cat "$T/gone")"
"$DIGESTCTL" status --prometheus >"$T/prom-all" || true
grep -F 'digestfs_up{' "$T/prom-all" | grep -F 'mnt \"q\"' | grep -q ' 0$' ||
  fail "--prometheus does not give digestfs_up 0 for the dead daemon"
# The remedy it prints is a command that works as printed (the name has a space and quotes).
hint=$(grep -F 'is gone' "$T/gone") || fail "status gives no remedy for a dead daemon: $(cat "$T/gone")"
cmd=${hint##*until it is detached: }; cmd=${cmd%, then mount it again}
case "$cmd" in "fusermount3 -u -z '"*) ;; *) fail "unexpected remedy: $hint" ;; esac
{ "$DIGESTCTL" status 2>&1 >/dev/null || true; } | grep -F 'is gone' | grep -qF "$cmd" ||
  fail "status without an argument gives no remedy for the dead daemon"
eval "$cmd" || fail "the printed remedy failed: $cmd"
# (mountinfo, not stat: stat of a dead mount may still succeed from the kernel's cached attributes)
findmnt -M "$M" >/dev/null && fail "the printed remedy left the dead mount in place: $cmd"
pass "a dead daemon: status says GONE, exits 1, digestfs_up 0, and prints a remedy that works"
