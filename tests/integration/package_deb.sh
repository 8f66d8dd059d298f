#!/bin/bash
# The Debian package, built by scripts/package.sh from this build and installed with apt into a
# fresh Debian 12 root (a copy of tests/lib/rootfs.sh's debootstrap tree; dependencies from the
# Debian mirror), used there through chroot with the host's /dev/fuse:
#   - the package holds the programs, the default policy, the man pages, the unit and the docs,
#     and its Depends come from dpkg-shlibdeps;
#   - `digestfs --version`, `digestctl init`, a signed manifest imported;
#   - a real mount from an /etc/fstab line with nofail, _netdev, x-systemd.* and comment= options
#     (mount(8) -> mount.fuse3 -> the installed digestfs): a listed program runs, an unlisted one
#     is refused, `digestctl status` sees the mount, umount ends the daemon;
#   - the installed man pages render without warnings (`man --warnings`) and have a NAME line;
#   - `systemd-analyze verify` accepts digestfs@srv-web.service and the mount unit that
#     systemd-fstab-generator makes from the fstab line; the unit's ExecStart (with its
#     environment file) mounts before it returns, as Type=forking needs; after the daemon is
#     killed, its ExecStartPre detaches the dead mount and ExecStart mounts again; ExecStop
#     unmounts;
#   - apt-get purge removes the package.
# Takes 1-3 minutes, mostly apt installing the dependencies (and systemd, man-db) in the root.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_fuse
need_cmd cpack dpkg-deb dpkg-shlibdeps chroot unshare
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -f "$BUILD/docs/man/digestfs.8" ] || skip "man pages not built (pandoc missing when cmake ran)"
. "$SRC/tests/lib/rootfs.sh"
dfs_rootfs || skip "no Debian mirror"

# --- build and inspect the package
deb=$(bash "$SRC/scripts/package.sh" --no-build "$BUILD" "$T/deb") || fail "scripts/package.sh failed"
[ -f "$deb" ] || fail "no package at '$deb'"
echo "package: $(basename "$deb")"
dpkg-deb -c "$deb" | awk '{print $6}' >"$T/contents"
for f in ./usr/bin/digestfs ./usr/bin/digestctl ./usr/share/digestfs/default.policy \
  ./usr/share/man/man8/digestfs.8.gz ./usr/share/man/man8/digestctl.8.gz \
  ./usr/share/man/man5/digestfs-policy.5.gz ./usr/lib/systemd/system/digestfs@.service \
  ./usr/share/doc/digestfs/README.md ./usr/share/doc/digestfs/docs/mount.md \
  ./usr/share/doc/digestfs/docs/dataflow.svg ./usr/share/doc/digestfs/examples/example.env; do
  grep -qxF "$f" "$T/contents" || fail "the package lacks $f"
done
if grep -vE '^\./((usr/|usr/lib/|usr/lib/systemd/)?|usr/(bin|share|lib/systemd/system)/.*)$' "$T/contents"; then
  fail "the package installs outside /usr/bin, /usr/share and /usr/lib/systemd/system (above)"
fi
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in fuse3 libfuse3-3 liblmdb0 'librpm[0-9]' 'libtss2-esys' libssl3; do
  grep -qE "(^|, )$d" <<<"$depends" || fail "Depends lacks $d"
done

# --- a fresh root with the package installed by apt
R=$T/root
dfs_rootfs_copy "$R"
cp "$deb" "$R/tmp/"
debname=$(basename "$deb")
mkdir -p "$R/srv/web"

# Everything in the root runs in a private mount namespace (its /proc, /sys, /dev and the FUSE
# mount vanish with it); the script inside stops its own daemons.
cat >"$R/tmp/inside.sh" <<'INSIDE'
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
step() { echo "== $*"; }
die() { echo "INSIDE-FAIL: $*"; exit 1; }
trap 'mountpoint -q /srv/web && umount /srv/web; true' EXIT

step "apt-get install ./$DEB (dependencies from the mirror), systemd, man-db"
apt_install() { apt-get install -y -qq --no-install-recommends -o Acquire::Retries=3 "$@"; }
apt_install "/tmp/$DEB" systemd man-db >/tmp/apt.log 2>&1 ||
  { apt-get update -qq >>/tmp/apt.log 2>&1 && apt_install "/tmp/$DEB" systemd man-db >>/tmp/apt.log 2>&1; } ||
  { tail -n 20 /tmp/apt.log; die "apt-get install"; }
dpkg -s digestfs | grep -qx 'Status: install ok installed' || die "digestfs is not installed"

step "digestfs --version; digestctl --version"
digestfs --version
digestctl --version
[ "$(command -v digestfs)" = /usr/bin/digestfs ] || die "digestfs is not /usr/bin/digestfs"

step "digestctl init; a signed manifest of /srv/lower imported"
digestctl init
mkdir -p /srv/lower/usr/bin /root/keys
cp /usr/bin/echo /srv/lower/usr/bin/hello
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /root/keys/k.pem \
  -out /root/keys/c.pem -days 1 -subj /CN=digestfs-package-test 2>/dev/null
digestctl keys add /root/keys/c.pem >/dev/null
digestctl manifest create /srv/lower --key /root/keys/k.pem --cert /root/keys/c.pem -o /root/lower.manifest
digestctl import manifest /root/lower.manifest
cp /usr/bin/true /srv/lower/usr/bin/dropped
printf 'x' >>/srv/lower/usr/bin/dropped

step "mount /srv/web from /etc/fstab (fuse.digestfs, nofail, _netdev, x-systemd.*, comment=)"
echo '/srv/lower /srv/web fuse.digestfs store=/var/lib/digestfs,nofail,_netdev,x-systemd.requires-mounts-for=/srv,x-systemd.mount-timeout=30s,comment=pkgtest 0 0' >>/etc/fstab
mount /srv/web || die "mount /srv/web"
mountpoint -q /srv/web || die "/srv/web is not mounted"
grep ' /srv/web fuse.digestfs ' /proc/self/mounts
[ "$(/srv/web/usr/bin/hello listed-ran)" = listed-ran ] || die "the listed program did not run"
if /srv/web/usr/bin/dropped 2>/tmp/dropped.err; then die "the unlisted program ran"; fi
grep -q 'Permission denied' /tmp/dropped.err || { cat /tmp/dropped.err; die "the unlisted program failed for another reason"; }
echo "refused: $(cat /tmp/dropped.err)"
digestctl status /srv/web || die "digestctl status /srv/web"
umount /srv/web
for i in $(seq 50); do ls /run/digestfs/*.json >/dev/null 2>&1 || break; sleep 0.1; done
ls /run/digestfs/*.json >/dev/null 2>&1 && die "the daemon left its status file after umount"

step "man pages: installed, found by name, rendered without warnings"
for p in 8:digestfs 8:digestctl 5:digestfs-policy; do
  sec=${p%%:*} name=${p#*:}
  man -w "$sec" "$name"
  MANWIDTH=80 man --warnings "$sec" "$name" >/tmp/man.out 2>/tmp/man.err || die "man $sec $name"
  [ ! -s /tmp/man.err ] || { cat /tmp/man.err; die "man $sec $name: warnings"; }
  grep -q "^NAME" /tmp/man.out || die "man $sec $name: no NAME section"
  lexgrog "$(man -w "$sec" "$name")" | grep -q "\"$name - " || die "$name: whatis cannot parse its NAME"
done

step "systemd-analyze verify: digestfs@srv-web.service and the fstab line's mount unit"
mkdir -p /etc/digestfs
printf '%s\n' SOURCE=/srv/lower 'OPTIONS=store=/var/lib/digestfs,nofail,x-systemd.automount' >/etc/digestfs/srv-web.env
[ "$(systemd-escape --path /srv/web)" = srv-web ] || die "systemd-escape"
systemd-analyze verify --man=yes digestfs@srv-web.service || die "systemd-analyze verify digestfs@srv-web.service"
mkdir -p /tmp/gen
/lib/systemd/system-generators/systemd-fstab-generator /tmp/gen /tmp/gen /tmp/gen
cat /tmp/gen/srv-web.mount
grep -qx 'Type=fuse.digestfs' /tmp/gen/srv-web.mount || die "the generated mount unit has another type"
SYSTEMD_UNIT_PATH=/tmp/gen: systemd-analyze verify /tmp/gen/srv-web.mount || die "systemd-analyze verify srv-web.mount"

step "the unit's ExecStart and ExecStop, with its environment file (as systemd would run them)"
unit=/usr/lib/systemd/system/digestfs@.service
start=$(sed -n 's/^ExecStart=//p' "$unit")
stop=$(sed -n 's/^ExecStop=//p' "$unit")
grep -qx 'Type=forking' "$unit" || die "the unit is not Type=forking"
OPTIONS=$(sed -n 's/^Environment=OPTIONS=//p' "$unit")
. /etc/digestfs/srv-web.env
start=${start//%f//srv/web}; start=${start//'${SOURCE}'/$SOURCE}; start=${start//'${OPTIONS}'/$OPTIONS}
stop=${stop//%f//srv/web}
echo "ExecStart: $start"
$start || die "ExecStart failed"
# Type=forking: the mount is in place when the started process has exited.
mountpoint -q /srv/web || die "ExecStart returned before the mount was in place"
[ "$(/srv/web/usr/bin/hello via-unit)" = via-unit ] || die "the listed program did not run (unit)"
if /srv/web/usr/bin/dropped 2>/dev/null; then die "the unlisted program ran (unit)"; fi
# Restart=on-failure after the daemon died: ExecStartPre detaches the dead mount, ExecStart mounts.
pre=$(sed -n 's/^ExecStartPre=-//p' "$unit")
pre=${pre//%f//srv/web}
grep -qx 'Restart=on-failure' "$unit" || die "the unit does not restart a failed daemon"
pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' /run/digestfs/*.json)
[ -n "$pid" ] || die "no daemon pid in /run/digestfs"
kill -9 "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if ls /srv/web >/dev/null 2>&1; then die "the mount still works after its daemon was killed"; fi
echo "ExecStartPre: $pre"
eval "$pre" || die "ExecStartPre failed"
$start || die "ExecStart after the daemon died failed"
mountpoint -q /srv/web || die "not mounted again after the restart"
[ "$(/srv/web/usr/bin/hello restarted)" = restarted ] || die "the listed program did not run (restart)"
if /srv/web/usr/bin/dropped 2>/dev/null; then die "the unlisted program ran (restart)"; fi
echo "ExecStop: $stop"
$stop || die "ExecStop failed"
mountpoint -q /srv/web && die "still mounted after ExecStop"

step "apt-get purge digestfs"
apt-get purge -y -qq digestfs >/tmp/apt.log 2>&1 || { tail /tmp/apt.log; die "apt-get purge"; }
[ ! -e /usr/bin/digestfs ] || die "/usr/bin/digestfs is left after purge"
[ ! -e /usr/lib/systemd/system/digestfs@.service ] || die "the unit is left after purge"
echo "INSIDE-OK"
INSIDE

unshare --mount --propagation private -- bash -c '
  set -e
  R=$1
  mount --rbind /dev "$R/dev"
  mount -t proc proc "$R/proc"
  mount -t sysfs sysfs "$R/sys"
  mount -t tmpfs tmpfs "$R/run"
  DEB=$2 chroot "$R" /bin/bash /tmp/inside.sh
' _ "$R" "$debname" 2>&1 | tee "$T/inside.log" || true
grep -qx "INSIDE-OK" "$T/inside.log" || fail "in the installed root: $(grep INSIDE-FAIL "$T/inside.log" || echo 'did not finish')"
# The daemons ran in the root's namespace; none may be left.
if pgrep -f "digestfs /srv/lower" >/dev/null; then fail "a digestfs daemon of the root is still running"; fi
pass "the package installs into a fresh Debian 12 root with apt; version, init, fstab mount, man pages, systemd units and purge work"
