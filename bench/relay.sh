#!/usr/bin/env bash
# bench/relay.sh — relay throughput: smtp-source → MTA → smtp-sink, mailerd against Postfix.
#
# In one run, alternating: smtp-source → smtp-sink alone (the ceiling), smtp-source → mailerd
# → smtp-sink, and smtp-source → Postfix → smtp-sink; N messages of SIZE bytes over SESS
# sessions each. Measured per run: end-to-end rate (from the first connection until the sink
# has every message and the MTA's queue is empty), the MTA's CPU per 1,000 messages (its
# whole process tree: utime+stime+children from /proc) and the sink-only rate. Prints the
# medians, mailerd/Postfix end to end and mailerd as % of sink-only.
#
# Everything runs inside `unshare --net --mount` (only loopback exists; resolv.conf is a
# files-only stub), queues on disk under /var/tmp. Only processes this script starts are
# stopped, by PID; every wait is bounded.
#
# Usage (root):  bench/relay.sh
#   N=20000 SIZE=5000 SESS=20 RUNS=3       workload and repetitions
#   MAILERD=path/to/mailerd                 skip the release build
#   MAILERD_EXTRA='...'                     extra TOML appended to mailerd's config
#   MAILERD_TOP='...'                       extra top-level TOML keys (e.g. threads = 2)
#   ONLY=mailerd|postfix|sink               run one side only
#   RUST_LOG=info                           mailerd's log level (default info, like Postfix's
#                                           per-delivery log lines)
#   KEEP=1                                  keep the work directory
#
# Measured 2026-11-28 (2 shared vCPUs, other builds running; default settings, release build,
# RUNS=3, medians; per-run pairs in parentheses):
#   sink only  8 300-14 300 msgs/s
#   mailerd    3 595 msgs/s e2e (2 084 / 3 595 / 3 693), 287 ms CPU per 1 000 msgs
#   Postfix      628 msgs/s e2e (  628 /   601 /   898), 1 698 ms CPU per 1 000 msgs
#   mailerd/Postfix 3.3x / 6.0x / 4.1x per run; mailerd 25-44 % of sink-only.
# Measured 2026-11-28 07:23 after connection reuse by default and the client fixes (load
# average 1-12 from other builds): sink only 11 834, mailerd 4 150 msgs/s (265 ms CPU per
# 1 000), Postfix 658: 6.3x, mailerd 35 % of sink-only.
# Measured 2026-11-28 07:50, quiet machine, with one write for apply-and-remove: sink only
# 11 803, mailerd 4 676 msgs/s (235 ms CPU per 1 000), Postfix 671: 7.0x, mailerd 40 % of
# sink-only. Measured 2026-11-28 09:53 with the fast path (new messages committed leased and
# handed to the queue manager), mimalloc and the DATA receiver's run copying: sink only 8 368,
# mailerd 3 632 msgs/s (283 ms CPU per 1 000), Postfix 626 (this VM ran ~20% slower than at
# 07:50): 5.8x, mailerd 43 % of sink-only. At 10:23, with reads into the input buffer and
# memmem dot-stuffing: sink only 9 014, mailerd 3 679 (283 ms), Postfix 622: 5.9x, 41 %.
# At 12:34 (this VM ~2x slower than in the morning: source and sink 218 ms CPU per 1 000),
# after the server loop moved off the main thread, buffered logs, boxed task futures and the
# writer's record cache: sink only 3 934, mailerd 1 850 (486 ms), Postfix 332: 5.6x, 47 %
# (12:10: 5.6x, 50 %). At 15:29 (a new, faster VM; fifth session): sink only 7 272, mailerd
# 3 317 (288 ms), Postfix 603: 5.5x, 46 %. See BENCHMARKS.md.
# mailerd's end-to-end rate equals its injection rate: the SMTP server and the group commit
# bound it, not delivery. Before the queue manager removed relayed messages itself (notify's
# single task deleted them one at a time and throttled delivery): ~1 050 msgs/s e2e.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
N=${N:-20000}; SIZE=${SIZE:-5000}; SESS=${SESS:-20}; RUNS=${RUNS:-3}
RUN_MAX_S=${RUN_MAX_S:-300}
SINK_PORT=2526; PF_PORT=2525; MD_PORT=2625
ONLY=${ONLY:-}

sink_count() {
  { tail -c 400 "$1" 2>/dev/null || true; } | tr '\r' '\n' | { grep -o 'mesg=[0-9]*' || true; } | tail -1 | cut -d= -f2
}
wait_sink() { # $1 file $2 want; true when reached
  local t0=$SECONDS c
  while :; do
    c=$(sink_count "$1"); c=${c:-0}
    ((c >= $2)) && return 0
    ((SECONDS - t0 > RUN_MAX_S)) && { log "timeout: sink has $c/$2"; return 1; }
    sleep 0.05
  done
}

# ------------------------------------------------------------------ outside the namespace
if [[ ${IN_NS:-0} != 1 ]]; then
  [[ $(id -u) == 0 ]] || die "run as root (Postfix, unshare)"
  for t in postfix smtp-source smtp-sink unshare; do
    command -v "$t" >/dev/null || die "$t missing: scripts/deps.sh installs postfix"
  done
  [[ -x /usr/bin/time ]] || die "/usr/bin/time missing: scripts/deps.sh installs time"
  MAILERD=$(mailerd_binary "${MAILERD:-}")
  [[ -x $MAILERD ]] || die "no mailerd binary at $MAILERD"
  export MAILERD
  ns_enter /var/tmp/relaybench.XXXXXX "$@"
fi

# ------------------------------------------------------------------ inside
ns_setup
trap bench_cleanup EXIT

pf_configure() {
  # shellcheck disable=SC2016 # $myhostname is Postfix's
  pf_main_cf "$SINK_PORT" '$myhostname, localhost'
  pf_master_cf tlsmgr proxywrite
}

md_configure() {
  cat > "$WORK/md.toml" <<CF
hostname = "mx.bench.test"
data_dir = "$WORK/md"
local_domains = ["mailerd.bench.test"]
relay_networks = ["127.0.0.0/8"]

[[listen]]
address = "127.0.0.1:$MD_PORT"
role = "mx"
# Postfix's smtpd greets at once (postscreen is not in this setup): no greet pause either.
greet_pause_ms = 0

[limits]
max_connections_per_ip = 200

[routes]
"*" = "127.0.0.1:$SINK_PORT"
${MAILERD_EXTRA:-}
CF
}
# shellcheck disable=SC2317 # called through $count
md_queue_count() { "$MAILERD" queue --config "$WORK/md.toml" list --json --all 2>/dev/null | wc -l; }
md_start() { # sets MTA_PID
  [[ -n $MD_PID ]] && stop_pid "$MD_PID" 10
  rm -rf "$WORK/md"
  RUST_LOG=${RUST_LOG:-info} "$MAILERD" serve --config "$WORK/md.toml" 2>"$WORK/md.log" &
  MD_PID=$!; MTA_PID=$MD_PID
  wait_port "$MD_PORT" || { tail -20 "$WORK/md.log" >&2; die "mailerd did not listen"; }
  sleep 1
}
md_stop() { [[ -n $MD_PID ]] && stop_pid "$MD_PID" 10; MD_PID=""; }

RES=$WORK/results.tsv; : > "$RES"
record() { printf '%s\n' "$*" | tee -a "$RES" >&2; }

source_run() { # $1 port; false when smtp-source failed
  /usr/bin/time -f '%U %S' -o "$WORK/src.time" smtp-source -s "$SESS" -m "$N" -l "$SIZE" \
    -M client.bench.test -f sender@example.test -t rcpt@example.test "127.0.0.1:$1" || { log "smtp-source rc=$?"; return 1; }
}

sink_only_run() { # $1 run
  start_sink "$WORK/sink.out" -c; local sp=$SINK_PID
  local t0 t1 s0 s1
  s0=$(tree_ticks "$sp"); t0=$(now)
  source_run "$SINK_PORT" || true
  t1=$(now); s1=$(tree_ticks "$sp")
  local got; got=$(sink_count "$WORK/sink.out"); stop_pid "$sp" 10
  local el; el=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
  record "sink	run=$1	got=$got	e2e_s=$(div "$el" 1)	msgs_per_s=$(div "$N" "$el")	cpu_ms_per_1k=$(div $(( (s1-s0)*1000/CLK_TCK )) "$(div "$N" 1000)")"
}

mta_run() { # $1 name (mailerd|postfix) $2 run
  local name=$1 k=$2 port count
  if [[ $name == mailerd ]]; then md_start; port=$MD_PORT; count=md_queue_count
  else pf_start; port=$PF_PORT; count=pf_queue_count; fi
  start_sink "$WORK/sink.out" -c; local sp=$SINK_PID
  local t0 t1 t2 p0 p1 ok=1
  p0=$(tree_ticks "$MTA_PID"); t0=$(now)
  if source_run "$port"; then
    t1=$(now)
    wait_sink "$WORK/sink.out" "$N" || ok=0
  else
    t1=$(now); ok=0
  fi
  if ((ok)); then
    for _ in $(seq 1 600); do (( $($count) == 0 )) && break; sleep 0.1; done
  fi
  t2=$(now); p1=$(tree_ticks "$MTA_PID")
  local got; got=$(sink_count "$WORK/sink.out"); stop_pid "$sp" 10
  local left; left=$($count)
  if [[ $name == mailerd ]]; then md_stop; else pf_stop; fi
  local inj e2e
  inj=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
  e2e=$(awk -v a="$t0" -v b="$t2" 'BEGIN{print b-a}')
  ((ok)) || e2e=0
  record "$name	run=$k	got=${got:-0}	left_in_queue=$left	inject_msgs_per_s=$(div "$N" "$inj")	e2e_s=$(div "$e2e" 1)	msgs_per_s=$(div "$N" "$e2e")	cpu_ms_per_1k=$(div $(( (p1-p0)*1000/CLK_TCK )) "$(div "$N" 1000)")"
}

pf_configure
md_configure
log "N=$N SIZE=$SIZE SESS=$SESS RUNS=$RUNS; postfix $(postconf -c "$WORK/pf/etc" -h mail_version); mailerd $MAILERD; work $WORK ($(stat -f -c %T "$WORK"))"
for k in $(seq 1 "$RUNS"); do
  [[ -z $ONLY || $ONLY == sink ]] && sink_only_run "$k"
  # alternate which MTA goes first
  if ((k % 2)); then order="mailerd postfix"; else order="postfix mailerd"; fi
  for m in $order; do [[ -z $ONLY || $ONLY == "$m" ]] && mta_run "$m" "$k"; done
done

SINK=$(med sink msgs_per_s); MD=$(med mailerd msgs_per_s); PF=$(med postfix msgs_per_s)
echo
echo "== medians of $RUNS runs: $N msgs x $SIZE B, $SESS sessions =="
printf 'sink only  msgs/s=%-8s sink_cpu_ms/1k=%s\n' "$SINK" "$(med sink cpu_ms_per_1k)"
printf 'mailerd    e2e msgs/s=%-8s cpu_ms/1k=%-8s inject msgs/s=%s\n' "$MD" "$(med mailerd cpu_ms_per_1k)" "$(med mailerd inject_msgs_per_s)"
printf 'postfix    e2e msgs/s=%-8s cpu_ms/1k=%-8s inject msgs/s=%s\n' "$PF" "$(med postfix cpu_ms_per_1k)" "$(med postfix inject_msgs_per_s)"
printf 'mailerd/postfix e2e = %sx (goal >= 3)\n' "$(div "$MD" "$PF")"
printf 'mailerd = %s%% of sink-only (goal >= 60)\n' "$(awk -v a="$MD" -v b="$SINK" 'BEGIN{ if (b+0==0) print "NA"; else printf "%.0f", 100*a/b }')"
[[ -n ${RESULTS_OUT:-} ]] && cp "$RES" "$RESULTS_OUT"
exit 0
