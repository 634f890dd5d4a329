#!/usr/bin/env bash
# bench/explain.sh: bounce analysis speed, mailerd against Sisimai, same files, same run.
#
#   mailerd explain --format tsv FILES...   (release build)
#   perl + Sisimai->make on each FILE       (Debian libsisimai-perl)
#
# Both are pinned to one core (taskset -c 0) and run PASSES times (default 10) over every
# file of testdata/bounces. Prints emails/s for each and the ratio mailerd/Sisimai.
# Usage: bench/explain.sh            (PASSES=10 CORE=0 to override; MAILERD=path skips the build)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
cd "$ROOT"
PASSES=${PASSES:-10}
CORE=${CORE:-0}

if ! perl -MSisimai -e1 2>/dev/null; then
  echo "installing libsisimai-perl" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsisimai-perl >/dev/null
fi
BIN=$(mailerd_binary "${MAILERD:-}")

mapfile -t FILES < <(find testdata/bounces -type f \( -name '*.eml' -o -name '*.msg' -o -name '*.txt' \) | sort)
N=${#FILES[@]}
LIST=$(mktemp); trap 'rm -f "$LIST"' EXIT
printf '%s\n' "${FILES[@]}" > "$LIST"

# Sisimai: one perl process reads every file PASSES times (start-up paid once, as for mailerd).
t0=$(now)
# shellcheck disable=SC2016 # Perl code
taskset -c "$CORE" perl -MSisimai -e '
  my ($passes, $list) = @ARGV; open my $fh, "<", $list or die; chomp(my @f = <$fh>);
  my $n = 0;
  for (1..$passes) { for my $p (@f) { my $v = eval { Sisimai->make($p, "delivered" => 1) }; $n += $v ? scalar @$v : 0 } }
  print STDERR "sisimai decoded $n records\n";' "$PASSES" "$LIST"
t1=$(now)

# mailerd: PASSES invocations over every file.
t2=$(now)
for _ in $(seq 1 "$PASSES"); do
  taskset -c "$CORE" "$BIN" explain --format tsv "${FILES[@]}" > /dev/null
done
t3=$(now)
rows=$("$BIN" explain --format tsv "${FILES[@]}" | tail -n +2 | awk -F'\t' '$2 != 0' | wc -l)
echo "mailerd decoded $((rows * PASSES)) records" >&2

awk -v n="$N" -v p="$PASSES" -v s0="$t0" -v s1="$t1" -v m0="$t2" -v m1="$t3" -v bin="$("$BIN" --version)" -v sv="$(perl -MSisimai -e 'print Sisimai->version')" 'BEGIN {
  s = n * p / (s1 - s0); m = n * p / (m1 - m0);
  printf "files=%d passes=%d core=%s\n", n, p, '"$CORE"';
  printf "sisimai %s: %.2f s, %.0f emails/s\n", sv, s1 - s0, s;
  printf "%s: %.2f s, %.0f emails/s\n", bin, m1 - m0, m;
  printf "ratio mailerd/sisimai: %.1fx\n", m / s }'
