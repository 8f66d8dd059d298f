#!/usr/bin/env bash
# The digestfs demo: sets up, builds and installs digestfs, then mounts the bundled sample tree
# (demo/rootfs) and shows content that is allowed, refused, measured and logged. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
cmake --install build >/dev/null
SRC=$PWD
W=$(mktemp -d /tmp/digestfs-demo.XXXXXX)
MNT=$W/mnt
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u "$MNT"
  [ -n "${SWTPM_PID:-}" ] && kill "$SWTPM_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "A golden tree, signed: a throwaway X.509 key signs a manifest of demo/rootfs"
cp -a demo/rootfs "$W/lower"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 1 \
  -subj "/CN=digestfs demo signer" 2>/dev/null
export DIGESTFS_STORE=$W/store
run digestctl init
run digestctl keys add "$W/cert.pem"
run digestctl manifest create "$W/lower" --key "$W/key.pem" --cert "$W/cert.pem" -o "$W/demo.manifest"
run digestctl import manifest "$W/demo.manifest"
run digestctl list

say "After signing, unlisted content appears in the tree"
printf '#!/bin/sh\necho "dropped: this should never run"\n' > "$W/lower/usr/bin/dropped"
chmod +x "$W/lower/usr/bin/dropped"
echo "not in any signed source" > "$W/lower/opt/tools/notes.txt"
echo "setting=changed beneath" >> "$W/lower/etc/demo.conf"
ls -l "$W/lower/usr/bin" "$W/lower/opt/tools"

say "A software TPM for measurements"
PORT=$(( (RANDOM % 20000) + 30000 ))
mkdir -p "$W/tpm"
swtpm socket --tpm2 --tpmstate dir="$W/tpm" --server type=tcp,port=$PORT,bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((PORT+1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear \
  --daemon --pid file="$W/tpm/pid"
sleep 0.5
SWTPM_PID=$(cat "$W/tpm/pid")
TCTI="swtpm:host=127.0.0.1,port=$PORT"
echo "swtpm on 127.0.0.1:$PORT"

say "Mount it: enforce mode, the demo policy, measurements to a log and the TPM"
mkdir -p "$MNT"
# In the foreground (-f) with its log in a file, so the demo can show what the daemon logged.
printf '$ %s\n' "digestfs $W/lower $MNT -f -o store=$W/store,policy=$SRC/demo/demo.policy,mode=enforce,log=$W/log,tpm=swtpm:host=127.0.0.1\\,port=$PORT"
digestfs "$W/lower" "$MNT" -f -o "store=$W/store,policy=$SRC/demo/demo.policy,mode=enforce,log=$W/log,tpm=swtpm:host=127.0.0.1\\,port=$PORT,loglevel=info" 2>"$W/digestfs.log" &
for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
mountpoint -q "$MNT" || { cat "$W/digestfs.log"; echo "the mount failed"; exit 1; }
grep -v '^#' demo/demo.policy

say "Allowed: a listed program runs, a listed file is read"
run "$MNT/usr/bin/greet"
run cat "$MNT/usr/lib/demo/data.txt"

say "Refused: the dropped program and a read of it (EACCES)"
if "$MNT/usr/bin/dropped"; then echo "UNEXPECTED: it ran"; exit 1; fi
if cat "$MNT/usr/bin/dropped"; then echo "UNEXPECTED: it was served"; exit 1; fi

say "Measured: reads under /opt (the listed file's source once, the unknown file itself)"
run cat "$MNT/opt/tools/report.txt"
run cat "$MNT/opt/tools/notes.txt"
run cat "$MNT/opt/tools/report.txt"

say "Logged: /etc/demo.conf was changed beneath the mount; the audit rule logs it and serves it"
run cat "$MNT/etc/demo.conf"

say "What the daemon logged: one line per refusal or audit, naming path, digest and rule"
grep -E ' (refused|audit|would_refuse) ' "$W/digestfs.log" | sed -E 's/^[^ ]+ //' || true

say "The IMA-format measurement log (ima-ng), and its replay against the TPM's PCRs"
run cat "$W/log/ascii_runtime_measurements"
run digestctl log verify --log "$W/log/binary_runtime_measurements" --tcti "$TCTI"

say "Unmount"
run fusermount3 -u "$MNT"
echo "demo complete"
