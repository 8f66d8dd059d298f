#!/bin/bash
# Hard links cannot move content out of appraisal: a FUSE open does not say which name was used,
# so the enforcer decides for the strictest of the file's names (docs/policy.md). Real mount, real
# store (a signed manifest), the real enforcer.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd openssl fusermount3

mkdir -p "$T/lower/usr/lib" "$T/lower/tmp"
echo "listed library" > "$T/lower/usr/lib/liblisted.so"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
  -subj "/CN=hardlink test" 2>/dev/null || fail "openssl could not make a key"
S=$T/store
"$DIGESTCTL" --store "$S" init >/dev/null
"$DIGESTCTL" --store "$S" keys add "$T/cert.pem" >/dev/null
"$DIGESTCTL" manifest create "$T/lower" --key "$T/key.pem" --cert "$T/cert.pem" -o "$T/m" >/dev/null
"$DIGESTCTL" --store "$S" import manifest "$T/m" >/dev/null
cat > "$T/policy" <<'P'
dont_appraise path=/tmp/**
appraise op=read path=/usr/**
P
dfs_mount "$T/lower" "$T/mnt" -o "store=$S,policy=$T/policy,mode=enforce,loglevel=warn"
M=$T/mnt

cat "$M/usr/lib/liblisted.so" >/dev/null || fail "a listed file is refused"
# Unknown content written under /usr through the mount (writes are not appraised) ...
echo "attacker library" > "$M/usr/lib/libx.so"
cat "$M/usr/lib/libx.so" >/dev/null 2>&1 && fail "unknown content under /usr was served"
# ... then hard-linked into the exempt /tmp: still refused, under either name.
ln "$M/usr/lib/libx.so" "$M/tmp/a"
cat "$M/usr/lib/libx.so" >/dev/null 2>&1 && fail "a hard link into /tmp took /usr content out of appraisal"
cat "$M/tmp/a" >/dev/null 2>&1 && fail "the /tmp name of a file also under /usr was served"
# After the /usr name is removed, only the exempt name is left: it is served.
rm "$M/usr/lib/libx.so"
cat "$M/tmp/a" >/dev/null || fail "a file only under /tmp is refused"
pass "hard links do not move content out of appraisal"
# Unknown content created in /tmp and linked into /usr is refused there too.
echo "dropped" > "$M/tmp/b"
cat "$M/tmp/b" >/dev/null || fail "/tmp content refused"
ln "$M/tmp/b" "$M/usr/lib/libb.so"
cat "$M/tmp/b" >/dev/null 2>&1 && fail "a file linked into /usr is still served under /tmp"
pass "a link into an appraised tree brings the file under appraisal"
