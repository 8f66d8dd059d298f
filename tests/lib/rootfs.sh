#!/usr/bin/env bash
# tests/lib/rootfs.sh: a real Debian 12 rootfs for the real-system tests and benchmarks, built once with
# debootstrap --variant=minbase from the machine's configured apt mirror and cached.
#
# Run as a script:   bash tests/lib/rootfs.sh            builds (if needed) and prints the rootfs path
# or source it:      . tests/lib/rootfs.sh; dfs_rootfs   sets DFS_ROOTFS (returns 1 if it cannot be built)
#
# The cache lives in ${DFS_ROOTFS_CACHE:-/var/cache/digestfs-tests}/bookworm-<hash of the package list>.
# A finished build has a .complete stamp; an unfinished one is removed and built again. Tests copy or
# mount it read-only by convention: a test that changes files works on its own copy (dfs_rootfs_copy).
#
# debootstrap keeps what `digestctl import apt --root` needs: the signed index (InRelease or
# Release + Release.gpg) and the Packages file in var/lib/apt/lists/, and every .deb it unpacked in
# var/cache/apt/archives/. The extra packages are installed by debootstrap itself (--include), so they
# come from the same signed index.

DFS_ROOTFS_SUITE=${DFS_ROOTFS_SUITE:-bookworm}
# python3, perl, openssl, busybox: real interpreters and tools; attr, acl, libcap2-bin: getfattr,
# getfacl, getcap for the differential; file: libmagic; netbase and ucf: packages with maintainer
# scripts for dpkg -i tests.
DFS_ROOTFS_PACKAGES=${DFS_ROOTFS_PACKAGES:-python3,perl,openssl,busybox,attr,acl,libcap2-bin,file,ca-certificates,netbase,ucf,xz-utils,zstd}

# The first http(s) mirror of the Debian archive that apt is configured with on this machine.
dfs_rootfs_mirror() {
  local m
  m=$(grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -oE 'https?://[^[:space:]]+' | grep -v -- '-security' | head -n1)
  echo "${m:-http://deb.debian.org/debian}"
}

dfs_rootfs() {
  command -v debootstrap >/dev/null || { echo "rootfs: debootstrap is not installed" >&2; return 1; }
  local cache=${DFS_ROOTFS_CACHE:-/var/cache/digestfs-tests}
  local key
  key=$(printf '%s\n' "$DFS_ROOTFS_SUITE" "$DFS_ROOTFS_PACKAGES" "v1" | sha256sum | cut -c1-12)
  DFS_ROOTFS=$cache/$DFS_ROOTFS_SUITE-$key
  [ -f "$DFS_ROOTFS/.complete" ] && return 0
  mkdir -p "$cache"
  (
    # One builder at a time; a second caller waits for the first to finish.
    flock 9
    [ -f "$DFS_ROOTFS/.complete" ] && exit 0
    rm -rf "$DFS_ROOTFS"
    local mirror
    mirror=$(dfs_rootfs_mirror)
    echo "rootfs: debootstrap $DFS_ROOTFS_SUITE from $mirror into $DFS_ROOTFS (once; cached)" >&2
    if ! debootstrap --variant=minbase --include="$DFS_ROOTFS_PACKAGES" \
      --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
      "$DFS_ROOTFS_SUITE" "$DFS_ROOTFS" "$mirror" >"$cache/debootstrap.log" 2>&1; then
      echo "rootfs: debootstrap failed (tail of $cache/debootstrap.log):" >&2
      tail -n 5 "$cache/debootstrap.log" >&2
      rm -rf "$DFS_ROOTFS"
      exit 1
    fi
    touch "$DFS_ROOTFS/.complete"
  ) 9>"$cache/.lock" || return 1
  [ -f "$DFS_ROOTFS/.complete" ]
}

# Copies the cached rootfs to DEST (hard links are kept, extended attributes too) for a test that
# changes it.
dfs_rootfs_copy() {
  local dest=$1
  mkdir -p "$dest"
  cp -a --preserve=all "$DFS_ROOTFS/." "$dest/"
  rm -f "$dest/.complete"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  dfs_rootfs
  echo "$DFS_ROOTFS"
fi
