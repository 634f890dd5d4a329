#!/usr/bin/env bash
# bench/queue-rss.sh — memory of `mailerd serve` over a large backlog: does RSS stay flat
# whatever the number of queued messages (issue 4: "an active window bounds memory whatever
# the backlog")?
#
# For each backlog size: fill a fresh queue file with that many real messages through the
# store's own commit (crates/store-embedded/examples/queue_fill.rs: envelope, content,
# recipient state and reception log, durable group commits), then run `mailerd serve` over it
# for DURATION seconds with every message routed to a next hop that defers (a loopback port
# nobody listens on: "connect ... Connection refused", a temporary failure, so every message
# stays queued), and sample the server's VmRSS / VmHWM every INTERVAL seconds from
# /proc/PID/status. Also measured: fill time, file size, startup time (exec until the SMTP
# listener accepts), delivery attempts made, CPU, and shutdown time.
#
# Usage:  bench/queue-rss.sh
#   BACKLOGS="10000 100000 1000000"   backlog sizes, in order
#   SIZE=1500                         message size in bytes
#   DURATION=180 INTERVAL=5           serving time and sampling period (seconds)
#   WORK=/var/tmp/...                 where the queue files go (default: a new dir in /var/tmp)
#   MAILERD=path FILL=path            skip the release build
#   RUST_LOG=info                     mailerd's log level (default info: one line per attempt)
#   KEEP=1                            keep the work directory (queue files are GBs at 1M)
# Output: one line per sample in $WORK/samples.tsv, a summary per backlog on stdout.
# Only processes this script starts are stopped, by PID; every wait is bounded.
set -euo pipefail

BACKLOGS=${BACKLOGS:-"10000 100000 1000000"}
SIZE=${SIZE:-1500}; DURATION=${DURATION:-180}; INTERVAL=${INTERVAL:-5}
# shellcheck source=bench/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

if [[ -z ${MAILERD:-} || -z ${FILL:-} ]]; then
  log "building mailerd and queue_fill (release)"
  (cd "$ROOT" && cargo build --release -q -p mailerd && \
    cargo build --release -q -p mailerd-store-embedded --example queue_fill) || die "cargo build failed"
  MAILERD=${MAILERD:-$TARGET/release/mailerd}; FILL=${FILL:-$TARGET/release/examples/queue_fill}
fi
[[ -x $MAILERD && -x $FILL ]] || die "no binaries at $MAILERD / $FILL"

# Run in a network namespace of our own (only loopback), so that no other program on the
# machine (a test suite's servers, say) can take the "dead" port meanwhile and stall the
# deliveries at its greeting.
if [[ ${IN_NS:-0} != 1 ]]; then
  [[ $(id -u) == 0 ]] || die "run as root (network namespace)"
  export IN_NS=1 MAILERD FILL
  exec unshare --net -- bash "$SCRIPT_PATH" "$@"
fi
ip link set lo up

free_port() { # a loopback port nobody listens on now
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    port_open "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

WORK=${WORK:-$(mktemp -d /var/tmp/queuerss.XXXXXX)}
mkdir -p "$WORK"
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  set +e
  [[ -n $MD_PID ]] && stop_pid "$MD_PID" 60
  if [[ ${KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

status_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
ticks() { awk '{i=index($0,") "); split(substr($0,i+2),f," "); print f[12]+f[13]}' "/proc/$1/stat" 2>/dev/null || echo 0; }

SAMPLES=$WORK/samples.tsv
printf 'backlog\tt_s\trss_kb\thwm_kb\tcpu_ticks\tlog_bytes\n' > "$SAMPLES"
SUMMARY=()
log "backlogs: $BACKLOGS; $SIZE-byte messages; $DURATION s each; work $WORK ($(stat -f -c %T "$WORK")); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for N in $BACKLOGS; do
  D=$WORK/q$N; rm -rf "$D"; mkdir -p "$D/data"
  log "[$N] filling"
  t0=$(now)
  "$FILL" "$D/data/queue.redb" "$N" "$SIZE" > "$D/fill.out" 2> "$D/fill.err" || { cat "$D/fill.err" >&2; die "fill failed"; }
  fill_s=$(since "$t0")
  file_mb=$(( $(stat -c %s "$D/data/queue.redb") / 1000000 ))
  log "[$N] filled in ${fill_s}s: $(cat "$D/fill.out")"

  LISTEN=$(free_port); DEAD=$(free_port)
  cat > "$D/md.toml" <<CF
hostname = "mx.bench.test"
data_dir = "$D/data"
local_domains = ["mailerd.bench.test"]
relay_networks = ["127.0.0.0/8"]

[[listen]]
address = "127.0.0.1:$LISTEN"
role = "mx"

[routes]
# Nobody listens there: every attempt is "Connection refused", a temporary failure.
"*" = "127.0.0.1:$DEAD"
CF
  sync
  t0=$(now)
  RUST_LOG=${RUST_LOG:-info} "$MAILERD" serve --config "$D/md.toml" 2> "$D/md.log" &
  MD_PID=$!
  up=""
  for _ in $(seq 1 6000); do
    kill -0 "$MD_PID" 2>/dev/null || { tail -20 "$D/md.log" >&2; die "mailerd exited"; }
    port_open "$LISTEN" && { up=$(since "$t0"); break; }
    sleep 0.05
  done
  [[ -n $up ]] || die "mailerd did not listen within 300 s"
  log "[$N] mailerd $MD_PID listening after ${up}s"
  start=$(now); end=$(awk -v s="$start" -v d="$DURATION" 'BEGIN{printf "%.3f", s+d}')
  c0=$(ticks "$MD_PID")
  while awk -v e="$end" -v n="$(now)" 'BEGIN{exit !(n<e)}'; do
    kill -0 "$MD_PID" 2>/dev/null || { tail -20 "$D/md.log" >&2; die "mailerd exited during the run"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$(since "$start")" "$(status_kb "$MD_PID" VmRSS)" \
      "$(status_kb "$MD_PID" VmHWM)" "$(( $(ticks "$MD_PID") - c0 ))" "$(stat -c %s "$D/md.log")" >> "$SAMPLES"
    sleep "$INTERVAL"
  done
  hwm=$(status_kb "$MD_PID" VmHWM); cpu_s=$(awk -v t="$(( $(ticks "$MD_PID") - c0 ))" -v h="$CLK_TCK" 'BEGIN{printf "%.1f", t/h}')
  t0=$(now); kill "$MD_PID"
  for _ in $(seq 1 1200); do kill -0 "$MD_PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$MD_PID" 2>/dev/null && { log "mailerd did not stop in 60 s: SIGKILL"; kill -9 "$MD_PID"; }
  wait "$MD_PID" 2>/dev/null || true
  down=$(since "$t0"); MD_PID=""
  attempts=$(grep -c 'queue: delivery status' "$D/md.log" || true)
  errors=$(grep -c ' ERROR ' "$D/md.log" || true)
  # steady: the median of the samples of the second half of the run
  steady=$(awk -F'\t' -v n="$N" -v h="$((DURATION / 2))" '$1==n && $2>=h {print $3}' "$SAMPLES" | sort -n |
    awk '{a[NR]=$1} END{print (NR ? a[int((NR+1)/2)] : "NA")}')
  first=$(awk -F'\t' -v n="$N" '$1==n {print $3; exit}' "$SAMPLES")
  line="backlog=$N fill_s=$fill_s file_mb=$file_mb startup_s=$up rss_first_mb=$((first / 1024)) rss_steady_mb=$((steady / 1024)) rss_peak_mb=$((hwm / 1024)) attempts=$attempts cpu_s=$cpu_s errors=$errors shutdown_s=$down"
  log "$line"
  SUMMARY+=("$line")
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$D/data"
done
echo
echo "== queue-rss: $SIZE-byte messages, $DURATION s of serving each, next hop refuses connections =="
printf '%s\n' "${SUMMARY[@]}"
[[ -n ${RESULTS_OUT:-} ]] && cp "$SAMPLES" "$RESULTS_OUT"
exit 0
