# tests/lib/differential.sh: runs the same command in a chroot of a native tree and in a chroot of
# a digestfs mount of that tree, and compares exit code, stdout and stderr byte for byte. Source it
# after tests/lib/common.sh (it uses $T and fail).
#
#   df_setup NATIVE MOUNT LABEL   the two roots, and a label for this pass (e.g. mode=off)
#   df_probe NAME CMD...          run CMD in both, native first; a difference is recorded
#   df_side n|m NAME CMD          run the `sh -c` string CMD on one side only (probes that write:
#                                 the native side runs while nothing is mounted, so that the mount
#                                 never sees the tree change beneath it, and each side works on its
#                                 own identical copy)
#   df_compare NAME [DESCRIPTION] compare the two sides of NAME; in the mount side's outputs,
#                                 DF_SUB_M is replaced by DF_SUB_N first (the names of the copies)
#   df_known NAME REASON          NAME differs for a reason tracked elsewhere (an issue): its
#                                 difference is reported, not counted as a failure; if it no longer
#                                 differs, that is reported too, so that the mark is removed
#   df_summary                    prints the counts; returns 1 if an unexpected difference was seen
#
# Every command runs with a clean, fixed environment (env -i, LC_ALL=C, TZ=UTC, no bytecode
# writing), so that only the file system differs. Outputs are kept in $T/df/LABEL/NAME.{n,m}.{out,err}.
# DF_FILTER, if set when a probe is run, is a command both outputs are piped through (for values
# that are inherent to a second mount, each such use says why).

DF_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C TZ=UTC
  HOME=/root TERM=dumb PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0)
DF_PROBES=0
DF_DIFFS=()
DF_KNOWN_SEEN=()
declare -A DF_KNOWN=()
DF_FILTER=""
DF_SUB_N=""
DF_SUB_M=""

df_setup() {
  DF_NATIVE=$1 DF_MOUNT=$2 DF_LABEL=$3
  DF_DIR=$T/df/$DF_LABEL
  mkdir -p "$DF_DIR"
}

df_known() { DF_KNOWN[$1]=$2; }

# Runs one side: SIDE (n or m), ROOT, then the command.
_df_run() {
  local side=$1 root=$2 name=$3
  shift 3
  local rc=0 t0=$EPOCHREALTIME
  (cd / && "${DF_ENV[@]}" chroot "$root" "$@") >"$DF_DIR/$name.$side.raw" 2>"$DF_DIR/$name.$side.err.raw" </dev/null || rc=$?
  if [ -n "$DF_FILTER" ]; then
    bash -c "$DF_FILTER" <"$DF_DIR/$name.$side.raw" >"$DF_DIR/$name.$side.out"
    bash -c "$DF_FILTER" <"$DF_DIR/$name.$side.err.raw" >"$DF_DIR/$name.$side.err"
  else
    mv "$DF_DIR/$name.$side.raw" "$DF_DIR/$name.$side.out"
    mv "$DF_DIR/$name.$side.err.raw" "$DF_DIR/$name.$side.err"
  fi
  rm -f "$DF_DIR/$name.$side.raw" "$DF_DIR/$name.$side.err.raw"
  echo "$rc" >"$DF_DIR/$name.$side.rc"
  echo "$t0 $EPOCHREALTIME" | awk '{printf "%.1f", $2 - $1}' >"$DF_DIR/$name.$side.time"
}

# Compares the two sides of NAME and records the verdict.
df_compare() {
  local name=$1 what=${2:-} d=$DF_DIR/$1.diff
  DF_PROBES=$((DF_PROBES + 1))
  : >"$d"
  local part
  for part in rc out err; do
    if [ -n "$DF_SUB_M" ] && [ "$part" != rc ]; then
      sed -i "s|$DF_SUB_M|$DF_SUB_N|g" "$DF_DIR/$name.m.$part"
    fi
    if ! cmp -s "$DF_DIR/$name.n.$part" "$DF_DIR/$name.m.$part"; then
      echo "--- $part (native, then mount)" >>"$d"
      diff -u --label native --label mount "$DF_DIR/$name.n.$part" "$DF_DIR/$name.m.$part" |
        head -n 40 >>"$d" || true
    fi
  done
  local lines
  lines=$(wc -l <"$DF_DIR/$name.n.out")
  if [ ! -s "$d" ]; then
    if [ -n "${DF_KNOWN[$name]:-}" ]; then
      echo "note: [$DF_LABEL] $name: identical now, though marked as a known difference (${DF_KNOWN[$name]})"
    fi
    echo "same: [$DF_LABEL] $name (rc $(cat "$DF_DIR/$name.n.rc"), $lines lines," \
      "$(cat "$DF_DIR/$name.n.time") s native, $(cat "$DF_DIR/$name.m.time") s mount)"
  elif [ -n "${DF_KNOWN[$name]:-}" ]; then
    echo "KNOWN DIFFERENCE: [$DF_LABEL] $name (${DF_KNOWN[$name]}):"
    head -n 12 "$d"
    DF_KNOWN_SEEN+=("$DF_LABEL:$name")
  else
    echo "DIFFERENCE: [$DF_LABEL] $name: $what" >&2
    cat "$d" >&2
    DF_DIFFS+=("$DF_LABEL:$name")
  fi
}

df_probe() {
  local name=$1
  shift
  _df_run n "$DF_NATIVE" "$name" "$@"
  _df_run m "$DF_MOUNT" "$name" "$@"
  df_compare "$name" "$*"
}

df_side() {
  local side=$1 name=$2 cmd=$3 root=$DF_NATIVE
  [ "$side" = m ] && root=$DF_MOUNT
  _df_run "$side" "$root" "$name" /bin/sh -c "$cmd"
}

df_summary() {
  echo "differential: $DF_PROBES probes, ${#DF_DIFFS[@]} unexpected differences" \
    "(${DF_DIFFS[*]:-none}), ${#DF_KNOWN_SEEN[@]} known (${DF_KNOWN_SEEN[*]:-none})"
  [ "${#DF_DIFFS[@]}" = 0 ]
}
