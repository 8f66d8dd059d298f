#!/bin/bash
# The man pages digestfs(8), digestctl(8) and digestfs-policy(5), as the build makes them from
# docs/ (docs/man/README.md):
#   - render without a warning from man/groff/tbl (`man --warnings`, 80 columns), with a NAME
#     line that whatis can parse (lexgrog);
#   - hold every document their source includes (each heading is there), so they follow docs/;
#   - name every option `digestfs --help` lists and every command `digestctl --help` lists, so
#     neither the programs nor the docs can gain something the other lacks.
# A few seconds.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_cmd man lexgrog pandoc
[ -x "$DIGESTFS" ] || skip "digestfs not built"
[ -x "$DIGESTCTL" ] || skip "digestctl not built"
M=$BUILD/docs/man
[ -f "$M/digestfs.8" ] || fail "pandoc is installed but the build made no man pages (re-run cmake)"

pages=(digestfs.8 digestctl.8 digestfs-policy.5)
for p in "${pages[@]}"; do
  f=$M/$p
  [ -f "$f" ] || fail "no $f"
  MANWIDTH=80 man --warnings -l "$f" >"$T/$p.txt" 2>"$T/$p.err" || fail "man -l $p failed"
  [ ! -s "$T/$p.err" ] || { cat "$T/$p.err" >&2; fail "$p renders with warnings"; }
  lexgrog "$f" | grep -q "\"${p%.*} - " || fail "$p: whatis cannot parse its NAME section"
  # Every heading of every included document is in the page (developer-only sections excepted).
  src=$SRC/docs/man/$p.md
  n=0
  while read -r inc; do
    n=$((n + 1))
    [ -f "$SRC/docs/man/$inc" ] || fail "$p includes $inc, which does not exist"
    while IFS= read -r h; do
      text=$(sed -E 's/^#+ +//; s/`//g; s/\\(.)/\1/g' <<<"$h")
      case "$text" in Tests | Benchmark | Benchmarks) continue ;; esac
      [[ $h == "# "* ]] && text=${text^^}
      grep -qF -- "$text" "$T/$p.txt" || fail "$p lacks the heading '$text' of $inc"
    done < <(grep -E '^#{1,4} ' "$SRC/docs/man/$inc")
  done < <(sed -nE 's/^<!-- include (\S+) -->$/\1/p' "$src")
  [ $n -gt 0 ] || fail "$p includes no document of docs/"
done
cat "$T"/*.txt >"$T/all.txt"

# digestfs --help: each option name (store=, measure_all_sources, ...) is in digestfs(8).
"$DIGESTFS" --help >"$T/help" 2>&1 || true
opts=$(sed -n '/^digestfs options/,/^$/p' "$T/help" | sed -nE 's/^  ([a-z_]+=?).*/\1/p')
[ "$(wc -w <<<"$opts")" -ge 10 ] || fail "could not read the options from digestfs --help"
for o in $opts; do
  grep -qE -- "(^|[^a-z_])$o" "$T/digestfs.8.txt" || fail "digestfs(8) does not document '$o' (digestfs --help lists it)"
done

# digestctl --help: every command and subcommand is named in one of the pages.
subcommands() { "$DIGESTCTL" "$@" --help 2>&1 | sed -n '/^SUBCOMMANDS:\|^Subcommands:/,/^$/p' | sed -nE 's/^  ([a-z][a-z-]*) .*/\1/p'; }
cmds=0
for c in $(subcommands); do
  subs=$(subcommands "$c")
  if [ -z "$subs" ]; then
    grep -qE -- "digestctl .*\b$c\b|(^|[^a-z-])$c [A-Z.-]" "$T/all.txt" || grep -qE -- "^ +$c( |$)" "$T/all.txt" ||
      fail "no man page documents 'digestctl $c'"
    cmds=$((cmds + 1))
  fi
  for s in $subs; do
    grep -qF -- "$c $s" "$T/all.txt" || fail "no man page documents 'digestctl $c $s'"
    cmds=$((cmds + 1))
  done
done
[ $cmds -ge 20 ] || fail "could read only $cmds commands from digestctl --help"
pass "man pages render without warnings, include docs/, and name all $(wc -w <<<"$opts") digestfs options and $cmds digestctl commands"
