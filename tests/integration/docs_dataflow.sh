#!/bin/bash
# The data-flow picture in README.md (docs/dataflow.svg) is what its source docs/dataflow.dot gives
# (scripts/docs.sh --check), and the check notices a source changed without regenerating. < 5 s.
. "$(dirname "$0")/../lib/common.sh" "$@"
need_cmd dot
grep -q '(docs/dataflow.svg)' "$SRC/README.md" || fail "README.md does not show docs/dataflow.svg"
bash "$SRC/scripts/docs.sh" --check || fail "docs/dataflow.svg is stale: run bash scripts/docs.sh"
# The check itself, on a copy whose source was edited after the picture was made.
mkdir -p "$T/copy/scripts" "$T/copy/docs"
cp "$SRC/scripts/docs.sh" "$T/copy/scripts/"
cp "$SRC/docs/dataflow.dot" "$SRC/docs/dataflow.svg" "$T/copy/docs/"
sed -i 's/digest store (LMDB)/digest store/' "$T/copy/docs/dataflow.dot"
if bash "$T/copy/scripts/docs.sh" --check 2>/dev/null; then fail "an edited source was not noticed"; fi
bash "$T/copy/scripts/docs.sh" >/dev/null && bash "$T/copy/scripts/docs.sh" --check ||
  fail "the regenerated picture does not pass the check"
pass "docs/dataflow.svg is current with docs/dataflow.dot"
