# bench/lib/fapolicyd.sh: sourced by the benchmarks that run fapolicyd as a baseline
# (fapolicyd_bench.sh, workload_bench.sh). They start the host's fapolicyd with their own
# configuration; this file saves what the daemon reads and makes before they do, and puts it all
# back afterwards, so a run leaves the host's fapolicyd setup as it found it.
#
# The caller sets W (a scratch directory) and then calls, in order:
#   fapo_init NAME TRUST_FILE_NAME   names for messages and the trust.d file the caller writes
#   fapo_save                        snapshot (before writing any configuration)
#   ... start fapolicyd, with its pid in FAPO_PID (and a watchdog's in WATCHDOG_PID) ...
#   stop_fapolicyd                   TERM, then KILL after 5 s; 1 if a fapolicyd still runs
#   restore_fapolicyd_files [all]    the configuration back; "all": the daemon's files too
#   fapo_restore                     all of the above at exit; 1 if /etc/fapolicyd differs

fapo_init() {
  FAPO_NAME=$1
  ETC=/etc/fapolicyd
  FAPO_PID=
  WATCHDOG_PID=
  # Files the daemon reads at start (the caller writes them) and files it creates.
  CONF_FILES=("$ETC/fapolicyd.conf" "$ETC/compiled.rules" "$ETC/fapolicyd.rules" "$ETC/trust.d/$2")
  CREATED=(/run/fapolicyd.pid /var/run/fapolicyd.state /var/log/fapolicyd-access.log)
  local dir f
  for dir in /var/lib/fapolicyd /run/fapolicyd; do  # the trust database, db.ver, the fifo
    for f in data.mdb lock.mdb db.ver fapolicyd.fifo; do CREATED+=("$dir/$f"); done
  done
  declare -gA FAPO_BEFORE FAPO_HAD
}

fapo_save() {
  local dir f i=0
  for dir in /var/lib/fapolicyd /run/fapolicyd; do FAPO_BEFORE[$dir]=$(ls -A "$dir" 2>/dev/null || true); done
  mkdir -p "$W/orig"
  cp -a "$ETC" "$W/orig/etc"  # for the final comparison
  for f in "${CONF_FILES[@]}" "${CREATED[@]}"; do
    if [ -e "$f" ]; then FAPO_HAD[$f]=$i; cp -a "$f" "$W/orig/$i"; fi
    i=$((i + 1))
  done
}

restore_fapolicyd_files() {
  local f files=("${CONF_FILES[@]}")
  [ "${1:-}" = all ] && files+=("${CREATED[@]}")
  for f in "${files[@]}"; do
    if [ -n "${FAPO_HAD[$f]:-}" ]; then
      cmp -s "$W/orig/${FAPO_HAD[$f]}" "$f" 2>/dev/null || cp -a "$W/orig/${FAPO_HAD[$f]}" "$f"
    else
      rm -f "$f"
    fi
  done
}

stop_fapolicyd() {
  [ -n "$FAPO_PID" ] || return 0
  kill -TERM "$FAPO_PID" 2>/dev/null || true
  local i
  for i in $(seq 100); do kill -0 "$FAPO_PID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$FAPO_PID" 2>/dev/null; then
    echo "$FAPO_NAME: fapolicyd $FAPO_PID ignored TERM for 5 s; killing it" >&2
    kill -KILL "$FAPO_PID" 2>/dev/null || true
  fi
  wait "$FAPO_PID" 2>/dev/null || true
  FAPO_PID=
  if [ -n "$WATCHDOG_PID" ]; then kill "$WATCHDOG_PID" 2>/dev/null || true; wait "$WATCHDOG_PID" 2>/dev/null || true; fi
  WATCHDOG_PID=
  if pgrep -x fapolicyd >/dev/null; then
    echo "$FAPO_NAME: a fapolicyd process is still running: $(pgrep -a -x fapolicyd)" >&2
    return 1
  fi
}

fapo_restore() {
  local rc=0 dir f
  stop_fapolicyd || rc=1
  restore_fapolicyd_files all
  for dir in /var/lib/fapolicyd /run/fapolicyd; do
    [ -d "$dir" ] || continue
    for f in $(ls -A "$dir"); do
      grep -qxF "$f" <<<"${FAPO_BEFORE[$dir]}" || { echo "removing $dir/$f (made by fapolicyd)"; rm -f "$dir/$f"; }
    done
  done
  if diff -r "$W/orig/etc" "$ETC" >/dev/null; then
    echo "fapolicyd: stopped ($(pgrep -c -x fapolicyd) fapolicyd processes left); $ETC is as before"
  else
    echo "$FAPO_NAME: $ETC differs from before the run:" >&2
    diff -r "$W/orig/etc" "$ETC" >&2
    rc=1
  fi
  return $rc
}
