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
# Usage: bench/bounce-storm.sh   (BOUNCE_N=5000 SESS=20 SIZE=5000 RUNS=3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BOUNCE_N=${BOUNCE_N:-5000}; SESS=${SESS:-20}; SIZE=${SIZE:-5000}; RUNS=${RUNS:-3}
RUN_MAX_S=${RUN_MAX_S:-900}
PF_PORT=2525; SINK_PORT=2526; MD_PORT=2625
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now() { date +%s.%N; }
[[ $(id -u) == 0 ]] || die "run as root (Postfix needs it)"

if [[ $(dpkg-query -W -f '${Status}' postfix 2>/dev/null) != "install ok installed" ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
fi
SMTP_SOURCE=/usr/sbin/smtp-source; SMTP_SINK=/usr/sbin/smtp-sink
[[ -x $SMTP_SOURCE && -x $SMTP_SINK ]] || die "smtp-source/smtp-sink not found (Debian postfix package)"
(cd "$ROOT" && cargo build --release -q -p mailerd)
MAILERD=$ROOT/target/release/mailerd

WORK=$(mktemp -d /var/tmp/bouncestorm.XXXXXX); chmod 755 "$WORK"
PIDS=()
cleanup() {
  set +e
  postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# CPU ticks of a process tree.
tree_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { i = index($0, ") "); pid = $1; n = split(substr($0, i + 2), f, " ");
      ppid[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15] }
    END { s = 0; for (p in t) { q = p; h = 0; while (q != "" && q != 0 && q != root && h < 64) { q = ppid[q]; h++ }
          if (q == root) s += t[p] } print s }'
}
count_files() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
wait_port() { local i; for i in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; die "port $1 did not open"; }

start_reject_sink() {
  timeout $((RUN_MAX_S + 60)) "$SMTP_SINK" -u nobody -f RCPT -B "550 5.1.1 Recipient address rejected: User unknown" \
    "127.0.0.1:$SINK_PORT" 256 > "$WORK/sink.log" 2>&1 &
  SINK_PID=$!; PIDS+=("$SINK_PID"); wait_port "$SINK_PORT"
}

# ------------------------------------------------------------------ Postfix
pf_setup() {
  local d=$WORK/pf
  rm -rf "$d"; mkdir -p "$d/etc" "$d/spool" "$d/data" "$d/vmail/sender/new" "$d/vmail/sender/cur" "$d/vmail/sender/tmp"
  chown -R nobody:nogroup "$d/vmail"; chown postfix:postfix "$d/data"
  cat > "$d/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
meta_directory = /etc/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/maillog
myhostname = mta.bench.test
mydomain = bench.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:$SINK_PORT
virtual_mailbox_domains = bounces.test
virtual_mailbox_base = $d/vmail
virtual_mailbox_maps = inline:{ sender@bounces.test=sender/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtputf8_enable = no
CF
  cat > "$d/etc/master.cf" <<CF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
  postfix -c "$d/etc" check >/dev/null 2>&1 || postfix -c "$d/etc" check
  postfix -c "$d/etc" start >/dev/null 2>&1 || { tail -5 "$d/maillog" >&2; die "postfix start failed"; }
  wait_port "$PF_PORT"
  sleep 1
  MTA_PID=$(tr -d ' \n' < "$d/spool/pid/master.pid")
  MAILDIR=$d/vmail/sender/new
  queue_count() { find "$WORK"/pf/spool/{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | wc -l; }
}
pf_teardown() { postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1 || true; sleep 1; }

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
  MTA_PID=$!; PIDS+=("$MTA_PID")
  wait_port "$MD_PORT"
  MAILDIR=$d/data/mail/sender@bounces.test/new
  queue_count() { "$MAILERD" queue --config "$WORK/md/mailerd.toml" list --json --all 2>/dev/null | wc -l; }
}
md_teardown() { kill "$MTA_PID" 2>/dev/null || true; wait "$MTA_PID" 2>/dev/null || true; }

# ------------------------------------------------------------------ one run
run() { # $1 = postfix|mailerd  $2 = run number
  local mta=$1 k=$2 t0 t1 c0 c1 got el
  start_reject_sink
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
    "$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$BOUNCE_N" 'BEGIN{print t*1000/hz/(n/1000)}')" | tee -a "$WORK/results.tsv"
  if [[ $mta == postfix ]]; then pf_teardown; else md_teardown; fi
  kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true
}

log "bounce storm: $BOUNCE_N messages, $SESS sessions, $SIZE bytes, $RUNS alternated runs"
for k in $(seq 1 "$RUNS"); do run postfix "$k"; run mailerd "$k"; done
med() { grep -P "^$1\t" "$WORK/results.tsv" | tr '\t' '\n' | grep "^$2=" | cut -d= -f2 | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
pf=$(med postfix notices_per_s); md=$(med mailerd notices_per_s)
echo "== medians of $RUNS runs =="
echo "postfix: $(med postfix seconds) s, $pf notices/s, $(med postfix cpu_ms_per_1k) ms CPU per 1k messages"
echo "mailerd: $(med mailerd seconds) s, $md notices/s, $(med mailerd cpu_ms_per_1k) ms CPU per 1k messages"
awk -v a="$md" -v b="$pf" 'BEGIN{printf "ratio mailerd/postfix: %.1fx\n", a/b}'
