#!/usr/bin/env bash
# Compares `mailerd explain` of two binaries over testdata/bounces (every file) and each shared
# corpus (../shared/corpus/bounces/{sisimai,flufl,bounceparser}), in the three formats (tsv,
# json, text). Prints one line per comparison and exits non-zero on any difference; the
# differing outputs are left in $OUT (default /tmp/explain-diff) for `diff`.
#
#   scripts/explain-diff.sh BASELINE_BIN NEW_BIN
set -euo pipefail
base=${1:?usage: explain-diff.sh BASELINE_BIN NEW_BIN}
new=${2:?usage: explain-diff.sh BASELINE_BIN NEW_BIN}
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
base=$(abs "$base")
new=$(abs "$new")
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared/corpus/bounces}
out=${OUT:-/tmp/explain-diff}
mkdir -p "$out"
sets=("testdata:$root/testdata/bounces")
for c in sisimai flufl bounceparser; do
  [ -d "$shared/$c" ] && sets+=("$c:$shared/$c")
done
status=0
for s in "${sets[@]}"; do
  name=${s%%:*}
  dir=${s#*:}
  mapfile -t files < <(cd "$dir" && find . -type f ! -name '*.tsv' ! -name '*.md' ! -name 'LICENSE*' ! -name 'COPYING*' | sort)
  for fmt in tsv json text; do
    (cd "$dir" && "$base" explain --format "$fmt" "${files[@]}" > "$out/$name.$fmt.base" 2>&1 || true)
    (cd "$dir" && "$new" explain --format "$fmt" "${files[@]}" > "$out/$name.$fmt.new" 2>&1 || true)
    if cmp -s "$out/$name.$fmt.base" "$out/$name.$fmt.new"; then
      echo "same      $name $fmt (${#files[@]} files, $(wc -l < "$out/$name.$fmt.new") lines)"
    else
      echo "DIFFERENT $name $fmt: diff $out/$name.$fmt.base $out/$name.$fmt.new"
      status=1
    fi
  done
done
exit $status
