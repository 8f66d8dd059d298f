#!/bin/bash
# The podman recipe of docs/containers.md: Debian 12's podman 4.3 runs a container whose rootfs
# (--rootfs) is an enforcing digestfs mount over a tree built from a signed package (static
# busybox), with runc as the runtime. A listed program runs; an unlisted one dropped into the
# rootfs is refused inside the container (exit 126) and the refusal is logged. About 10 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd podman runc busybox
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

# The recipe: mount the rootfs, then run podman on the mount point.
M=$T/mnt
mkdir -p "$M"
dfs_mount_fg "$ROOT" "$M" "$T/log" "store=$T/store,log=$T/mlog"

name=dfs-podman-$$
at_exit "podman rm -f $name >/dev/null 2>&1"
# The options this machine needs (docs/containers.md): runc (crun fails on the hybrid cgroup
# layout), cgroupfs (systemd is not PID 1), and rlimits the container may set.
timeout 120 podman --runtime runc --cgroup-manager cgroupfs run --rm --name "$name" \
  --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --rootfs "$M" /bin/sh -c \
  '/bin/busybox echo listed-ran; /bin/busybox-evil true; echo evil-rc=$?' >"$T/out" 2>"$T/err" || true
cat "$T/out"
grep -qx "listed-ran" "$T/out" || { cat "$T/err" >&2; fail "the listed busybox did not run in the podman container"; }
grep -qx "evil-rc=126" "$T/out" || { cat "$T/err" >&2; fail "the unlisted binary was not refused in the podman container"; }
grep -q 'refused path="/bin/busybox-evil" op=exec' "$T/log" || fail "the refusal in the container was not logged"
# The lower tree is untouched by the refusal; the same program outside the mount still runs.
"$ROOT/bin/busybox-evil" true || fail "busybox-evil does not run outside the mount"
pass "podman --rootfs on digestfs: a listed busybox runs, an unlisted binary is refused"
