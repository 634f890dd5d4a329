#!/usr/bin/env bash
# bench/bounce-storm.sh: a bounce storm, mailerd against Postfix in the same run.
#
# smtp-source sends BOUNCE_N messages (5 KB, 20 sessions) from sender@bounces.test to
# rcpt@example.test. The next hop (smtp-sink) refuses every RCPT with
# "550 5.1.1 Recipient address rejected: User unknown". Each MTA must write a failure notice
# for every message and deliver it into the sender's Maildir (bounces.test is local to it).
# Measured: seconds from the first message injected until every notice is a file in the
# sender's Maildir/new (and the MTA's queue is empty); notices per second; CPU of the MTA.
#
#   Postfix: its own instance in a temp dir (durable queue as shipped), relayhost = the
#            refusing sink, bounces.test delivered by virtual(8) into a Maildir.
#   mailerd: release build, relay_networks 127.0.0.0/8, routes "*" = the refusing sink,
#            bounces.test a local domain with the user sender@bounces.test.
#
# Loopback only; stops only what it started; every wait is bounded.
# Usage: bench/bounce-storm.sh   (BOUNCE_N=5000 SESS=20 SIZE=5000 RUNS=3; MAILERD=path skips the build)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"
BOUNCE_N=${BOUNCE_N:-5000}; SESS=${SESS:-20}; SIZE=${SIZE:-5000}; RUNS=${RUNS:-3}
RUN_MAX_S=${RUN_MAX_S:-900}
PF_PORT=2525; SINK_PORT=2526; MD_PORT=2625
[[ $(id -u) == 0 ]] || die "run as root (Postfix needs it)"

"$ROOT/scripts/deps.sh"
SMTP_SOURCE=$(command -v smtp-source) || die "smtp-source/smtp-sink not found (Debian postfix package)"
command -v smtp-sink >/dev/null || die "smtp-source/smtp-sink not found (Debian postfix package)"
MAILERD=$(mailerd_binary "${MAILERD:-}")
[[ -x $MAILERD ]] || die "no mailerd binary at $MAILERD"

WORK=$(mktemp -d /var/tmp/bouncestorm.XXXXXX); chmod 755 "$WORK"
RES=$WORK/results.tsv
trap 'bench_cleanup; rm -rf "$WORK"' EXIT

count_files() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# ------------------------------------------------------------------ Postfix
pf_setup() {
  local d=$WORK/pf
  rm -rf "$d"; mkdir -p "$d/vmail/sender/new" "$d/vmail/sender/cur" "$d/vmail/sender/tmp"
  chown -R nobody:nogroup "$d/vmail"
  pf_main_cf "$SINK_PORT" ""
  cat >> "$d/etc/main.cf" <<CF
virtual_mailbox_domains = bounces.test
virtual_mailbox_base = $d/vmail
virtual_mailbox_maps = inline:{ sender@bounces.test=sender/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
CF
  pf_master_cf virtual
  pf_start
  MAILDIR=$d/vmail/sender/new
  queue_count() { pf_queue_count; }
}
pf_teardown() { pf_stop; }

# ------------------------------------------------------------------ mailerd
md_setup() {
  local d=$WORK/md
  rm -rf "$d"; mkdir -p "$d"
  cat > "$d/mailerd.toml" <<CF
hostname = "mx.bench.test"
data_dir = "$d/data"
local_domains = ["bounces.test"]
relay_networks = ["127.0.0.0/8"]
[[listen]]
address = "127.0.0.1:$MD_PORT"
role = "mx"
greet_pause_ms = 0          # Postfix's smtpd has no greet pause either (postscreen is off)
[[user]]
address = "sender@bounces.test"
[routes]
"*" = "127.0.0.1:$SINK_PORT"
[tls]
enabled = false
[limits]
max_connections_per_ip = 100
CF
  RUST_LOG=warn "$MAILERD" serve --config "$d/mailerd.toml" > "$d/serve.log" 2>&1 &
  MD_PID=$!; MTA_PID=$MD_PID
  wait_port "$MD_PORT" "$MD_PID" || die "port $MD_PORT did not open"
  MAILDIR=$d/data/mail/sender@bounces.test/new
  queue_count() { "$MAILERD" queue --config "$WORK/md/mailerd.toml" list --json --all 2>/dev/null | wc -l; }
}
md_teardown() { stop_pid "$MD_PID"; MD_PID=""; }

# ------------------------------------------------------------------ one run
run() { # $1 = postfix|mailerd  $2 = run number
  local mta=$1 k=$2 t0 t1 c0 c1 got el
  start_sink "$WORK/sink.log" -f RCPT -B "550 5.1.1 Recipient address rejected: User unknown"
  if [[ $mta == postfix ]]; then pf_setup; else md_setup; fi
  c0=$(tree_ticks "$MTA_PID")
  t0=$(now)
  "$SMTP_SOURCE" -s "$SESS" -m "$BOUNCE_N" -l "$SIZE" -M client.bench.test \
      -f sender@bounces.test -t rcpt@example.test "127.0.0.1:$([[ $mta == postfix ]] && echo $PF_PORT || echo $MD_PORT)" \
      || log "smtp-source rc=$?"
  local start; start=$(date +%s)
  while :; do
    got=$(count_files "$MAILDIR")
    ((got >= BOUNCE_N)) && (( $(queue_count) == 0 )) && break
    (( $(date +%s) - start > RUN_MAX_S )) && { log "$mta: timeout with $got notices"; break; }
    sleep 0.1
  done
  t1=$(now); c1=$(tree_ticks "$MTA_PID")
  el=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
  printf '%s\trun=%s\tmsgs=%s\tnotices=%s\tseconds=%.1f\tnotices_per_s=%.1f\tcpu_ms_per_1k=%.0f\n' \
    "$mta" "$k" "$BOUNCE_N" "$got" "$el" "$(awk -v n="$got" -v e="$el" 'BEGIN{print n/e}')" \
    "$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$BOUNCE_N" 'BEGIN{print t*1000/hz/(n/1000)}')" | tee -a "$RES"
  if [[ $mta == postfix ]]; then pf_teardown; else md_teardown; fi
  stop_pid "$SINK_PID"
}

log "bounce storm: $BOUNCE_N messages, $SESS sessions, $SIZE bytes, $RUNS alternated runs"
for k in $(seq 1 "$RUNS"); do run postfix "$k"; run mailerd "$k"; done
pf=$(med postfix notices_per_s); md=$(med mailerd notices_per_s)
echo "== medians of $RUNS runs =="
echo "postfix: $(med postfix seconds) s, $pf notices/s, $(med postfix cpu_ms_per_1k) ms CPU per 1k messages"
echo "mailerd: $(med mailerd seconds) s, $md notices/s, $(med mailerd cpu_ms_per_1k) ms CPU per 1k messages"
awk -v a="$md" -v b="$pf" 'BEGIN{printf "ratio mailerd/postfix: %.1fx\n", a/b}'
