#!/bin/bash
# A real container on a digestfs mount: runc runs with its rootfs on an enforcing mount over a
# tree built from a signed package (static busybox). A listed binary runs; an unlisted binary
# dropped into the rootfs fails to exec inside the container (EACCES), and the refusal is logged.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd runc busybox python3
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
. "$SRC/tests/lib/enforce.sh"
BB=$(command -v busybox)
file "$BB" 2>/dev/null | grep -q "statically linked" || skip "busybox is not static"

ef_key
s=$(ef_stage rootfs)
mkdir -p "$s/bin" "$s/etc"
cp "$BB" "$s/bin/busybox"
ln -s busybox "$s/bin/sh"
echo "root:x:0:0:root:/:/bin/sh" >"$s/etc/passwd"
PKG=$(ef_package rootfs 1.0 "$s" /etc/passwd)
ROOT=$T/root
ef_install "$ROOT" "$PKG"
ef_store "$T/store" "$ROOT"
mkdir -p "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/tmp"
cp "$BB" "$ROOT/bin/busybox-evil" && printf 'x' >>"$ROOT/bin/busybox-evil"

M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$ROOT" "$M" "$T/log" "store=$T/store,log=$T/mlog"

B=$T/bundle
mkdir -p "$B"
(cd "$B" && runc spec) || fail "runc spec"
python3 - "$B/config.json" "$M" <<'PY'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": False}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c",
    "/bin/busybox echo listed-ran; /bin/busybox-evil true; echo evil-rc=$?"]
c["linux"].pop("resources", None)
c["linux"].pop("cgroupsPath", None)
json.dump(c, open(path, "w"), indent=1)
PY
id=dfs-enforce-$$
at_exit "runc delete -f $id >/dev/null 2>&1"
(cd "$B" && timeout 60 runc run "$id") >"$T/out" 2>"$T/err" || true
cat "$T/out"
grep -qx "listed-ran" "$T/out" || { cat "$T/err" >&2; fail "the listed busybox did not run in the container"; }
grep -qx "evil-rc=126" "$T/out" || { cat "$T/err" >&2; fail "the unlisted binary was not refused in the container"; }
grep -q 'refused path="/bin/busybox-evil" op=exec' "$T/log" || fail "the refusal in the container was not logged"
pass "runc: a listed busybox runs and an unlisted binary is refused, rootfs on digestfs"
