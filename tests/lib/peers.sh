# tests/lib/peers.sh: the peer projects in $SRC/../shared/peers (pjdfstest, manage_digest_lists,
# Keylime), for tests that run the peer itself instead of imitating it. Source after common.sh:
#   . "$SRC/tests/lib/peers.sh"
#   dfs_peers || skip "..."    # sets DFS_PEERS_OUT: built pjdfstest/ and manage_digest_lists
#   dfs_keylime || skip "..."  # sets DFS_KEYLIME_PY: a python3 command line that imports keylime
# shared/ is read-only in CI, so the peers are built (with their own build.sh) into a cache dir,
# /var/cache/digestfs-tests/peers-<hash of the peer sources>, once per machine, under a lock; a
# test treats it as read-only. The first build takes about 5 minutes on a busy 2-core machine.
# DFS_PEERS_SRC may name the peers directory when the checkout has no shared/ beside it.
DFS_PEERS_SRC=$(cd "${DFS_PEERS_SRC:-$SRC/../shared/peers}" 2>/dev/null && pwd) || DFS_PEERS_SRC=
DFS_PEERS_CACHE=${DFS_PEERS_CACHE:-/var/cache/digestfs-tests}

dfs_peers() {
  [ -n "$DFS_PEERS_SRC" ] && [ -x "$DFS_PEERS_SRC/build.sh" ] || return 1
  local c
  for c in autoreconf automake libtoolize make gcc; do command -v "$c" >/dev/null || return 1; done
  local key
  key=$(cd "$DFS_PEERS_SRC" && find pjdfstest digest-cache-tools build.sh -type f -printf '%P %s %T@\n' |
    sort | sha256sum | cut -c1-12)
  DFS_PEERS_OUT=$DFS_PEERS_CACHE/peers-$key
  mkdir -p "$DFS_PEERS_CACHE"
  (
    flock 9
    if [ ! -x "$DFS_PEERS_OUT/manage_digest_lists" ] || [ ! -x "$DFS_PEERS_OUT/pjdfstest/pjdfstest" ]; then
      "$DFS_PEERS_SRC/build.sh" "$DFS_PEERS_OUT" >"$DFS_PEERS_CACHE/peers-$key.build.log" 2>&1
    fi
  ) 9>"$DFS_PEERS_CACHE/peers.lock" || return 1
  [ -x "$DFS_PEERS_OUT/manage_digest_lists" ] && [ -x "$DFS_PEERS_OUT/pjdfstest/pjdfstest" ]
}

# Keylime is pure Python: Debian's interpreter (not a pyenv one) with Debian's modules.
dfs_keylime() {
  [ -n "$DFS_PEERS_SRC" ] && [ -d "$DFS_PEERS_SRC/keylime/keylime" ] || return 1
  [ -x /usr/bin/python3 ] || return 1
  DFS_KEYLIME_PY="env PYTHONPATH=$DFS_PEERS_SRC/keylime /usr/bin/python3"
  $DFS_KEYLIME_PY -c 'from keylime.ima import ima' 2>/dev/null
}
