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

# Signs DIR into STORE with a manifest named NAME, made with a throwaway key (made once per test,
# added once per store). Needs $DIGESTCTL and $T (tests/lib/common.sh).
dfs_rootfs_sign() {
  local store=$1 dir=$2 name=$3
  if [ ! -f "$T/rootfs-manifest.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=digestfs rootfs manifest" -keyout "$T/rootfs-manifest.key" \
      -out "$T/rootfs-manifest.crt" 2>/dev/null || return 1
  fi
  if [ ! -f "$store/.dfs-test-manifest-key" ]; then
    "$DIGESTCTL" --store "$store" keys add "$T/rootfs-manifest.crt" >/dev/null || return 1
    touch "$store/.dfs-test-manifest-key"
  fi
  "$DIGESTCTL" manifest create "$dir" --key "$T/rootfs-manifest.key" \
    --cert "$T/rootfs-manifest.crt" -o "$T/$name.manifest" --name "$name" >/dev/null || return 1
  "$DIGESTCTL" --store "$store" import manifest "$T/$name.manifest" >/dev/null
}

# Makes STORE (a new store) trust ROOT, a copy of the rootfs, for the enforcement tests, and sets
# DFS_STORE_KIND (apt or manifest) and DFS_STORE_UNLISTED:
# - with `digestctl import apt --root ROOT` (the archive's signatures, keys from the host's
#   debian-archive-keyring) where digestctl has it, else with a manifest of ROOT signed by a
#   throwaway key; extra arguments go to import apt (--lists DIR, --debs DIR);
# - then the files the default policy would still refuse (`digestctl verify-tree`: files no
#   package ships, made at install time, e.g. byte-compiled Python modules) are listed in
#   DFS_STORE_UNLISTED ($T/unlisted.txt, one path a line) and, unless DFS_STORE_STRICT=1, signed
#   into the store too (manifest "unlisted"), as an operator who trusts the image would.
dfs_rootfs_store() {
  local store=$1 root=$2
  shift 2
  "$DIGESTCTL" --store "$store" init >/dev/null || return 1
  if "$DIGESTCTL" import --help 2>&1 | grep -qE '^[[:space:]]+apt([[:space:]]|$)'; then
    DFS_STORE_KIND=apt
    "$DIGESTCTL" --store "$store" keys add /usr/share/keyrings/debian-archive-keyring.gpg \
      >/dev/null || return 1
    "$DIGESTCTL" --store "$store" import apt --root "$root" "$@" >"$T/import-apt.log" 2>&1 ||
      { tail -n 20 "$T/import-apt.log" >&2; return 1; }
  else
    DFS_STORE_KIND=manifest
    dfs_rootfs_sign "$store" "$root" rootfs || return 1
  fi
  DFS_STORE_UNLISTED=$T/unlisted.txt
  "$DIGESTCTL" --store "$store" --json verify-tree "$root" --xdev >"$T/verify-tree.json" || true
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["refused"]:
    print(r["path"])' "$T/verify-tree.json" | sort -u >"$DFS_STORE_UNLISTED" || return 1
  echo "rootfs store ($DFS_STORE_KIND): $(wc -l <"$DFS_STORE_UNLISTED") files the default policy would refuse;" \
    "by directory:" $(sed -E 's|^(/[^/]+/[^/]+/[^/]+)/.*|\1|' "$DFS_STORE_UNLISTED" | sort | uniq -c |
      sort -rn | head -n 6 | awk '{printf "%s %s;", $2, $1}') >&2
  if [ -s "$DFS_STORE_UNLISTED" ] && [ "${DFS_STORE_STRICT:-0}" != 1 ]; then
    local stage=$T/unlisted p
    while IFS= read -r p; do
      mkdir -p "$stage/$(dirname "$p")"
      cp -a "$root$p" "$stage$p"
    done <"$DFS_STORE_UNLISTED"
    dfs_rootfs_sign "$store" "$stage" unlisted || return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  dfs_rootfs
  echo "$DFS_ROOTFS"
fi
