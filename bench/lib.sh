# bench/lib.sh — shell code shared by the benchmark scripts (sourced, not run).
#
# Sourcing script sets before sourcing: nothing. After sourcing it has:
#   ROOT                          the repository (bench/..)
#   log die now fmt div median    logging and arithmetic helpers
#   tree_ticks PID                CPU ticks of a process tree
#   port_open PORT / wait_port PORT [PID] / stop_pid PID [MAX_S]
#   mailerd_binary [PATH]         PATH, or build the release binary and print its path
#   ns_enter TEMPLATE / ns_setup  re-run the script inside a private network namespace
#   start_sink OUT [OPTS...]      smtp-sink on 127.0.0.1:$SINK_PORT (sets SINK_PID, adds to PIDS)
#   pf_main_cf / pf_master_cf / pf_start / pf_stop / pf_queue_count
#                                 a private Postfix instance under $WORK/pf
#   bench_cleanup                 stops Postfix, $MD_PID and every PID in PIDS
#   med NAME KEY                  median of KEY= over the lines of $RES for NAME
# Rules kept by all of it: loopback only, bounded waits, only processes the script started are
# stopped, by PID.
# shellcheck shell=bash disable=SC2034 # CLK_TCK, MTA_PID, ... are for the sourcing scripts

SCRIPT_PATH=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)
PIDS=()
MD_PID=""; MASTER_PID=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now() { date +%s.%N; }
fmt() { awk -v x="$1" 'BEGIN{printf "%.1f", x}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b==0) print "NA"; else printf "%.1f", a/b }'; }
median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) {print "NA"; exit} if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
# median of field KEY= over the lines of $RES that start with NAME<tab>
med() { grep -P "^$1\t" "$RES" | tr '\t' '\n' | grep "^$2=" | cut -d= -f2 | median; }

# Sum of utime+stime+cutime+cstime (ticks) of process $1 and all its descendants.
tree_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { i = index($0, ") "); pid = $1; rest = substr($0, i + 2); split(rest, f, " ");
      ppid[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15] }
    END { s = 0
      for (p in t) { q = p; hops = 0
        while (q != "" && q != 0 && q != root && hops < 64) { q = ppid[q]; hops++ }
        if (q == root) s += t[p] }
      print s }'
}

port_open() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
wait_port() { # $1 port [$2 pid: give up early when it exits]; false after 10 s
  local i
  for i in $(seq 1 200); do
    port_open "$1" && return 0
    [[ -z ${2:-} ]] || kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
stop_pid() { # a process we started: SIGTERM, wait at most $2 s (default 30), then SIGKILL
  local pid=$1 max=${2:-30} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 $((max * 20))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

mailerd_binary() { # $1: a given binary (kept as is), or empty: build the release binary
  if [[ -n ${1:-} ]]; then echo "$1"; return 0; fi
  log "building mailerd (release)"
  (cd "$ROOT" && cargo build --release -q -p mailerd >&2) || die "cargo build failed"
  echo "${CARGO_TARGET_DIR:-$ROOT/target}/release/mailerd"
}

# Host side: a work directory on disk ($1: mktemp template under /var/tmp), then the script
# again inside `unshare --net --mount` with WORK and IN_NS=1 exported (export anything else
# the inner run needs before calling). Removes WORK afterwards unless KEEP=1. Does not return.
ns_enter() {
  [[ $(id -u) == 0 ]] || die "run as root (network namespace, Postfix)"
  WORK=$(mktemp -d "$1"); chmod 755 "$WORK"
  [[ $(stat -f -c %T "$WORK") != tmpfs ]] || die "$WORK is on tmpfs; the queues must be on disk"
  export WORK IN_NS=1
  local rc=0
  unshare --net --mount --propagation private -- bash "$SCRIPT_PATH" "$@" || rc=$?
  if [[ ${KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
# Namespace side: loopback up, a resolv.conf that points nowhere.
ns_setup() {
  ip link set lo up
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$WORK/resolv.conf"
  mount --bind "$WORK/resolv.conf" /etc/resolv.conf
}

start_sink() { # $1 output file, then extra smtp-sink options; sets SINK_PID
  local out=$1; shift
  timeout "$((RUN_MAX_S + 120))" smtp-sink -u nobody "$@" "127.0.0.1:$SINK_PORT" 256 >"$out" 2>&1 &
  SINK_PID=$!; PIDS+=("$SINK_PID")
  wait_port "$SINK_PORT" "$SINK_PID" || die "smtp-sink did not come up"
}

# ------------------------------------------------------------------ Postfix under $WORK/pf
# main.cf shared by the benchmarks: $1 = relayhost port, $2 = mydestination.
# The caller appends what is particular to it.
pf_main_cf() {
  local d=$WORK/pf
  mkdir -p "$d/etc"
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
mydestination = $2
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:$1
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
}
# master.cf: smtpd on 127.0.0.1:$PF_PORT and the usual services; the optional services
# (tlsmgr proxywrite virtual lmtp) only when named in the arguments.
pf_master_cf() {
  local want=" $* "
  mkdir -p "$WORK/pf/etc"
  echo "127.0.0.1:$PF_PORT inet n - n - - smtpd" > "$WORK/pf/etc/master.cf"
  while read -r opt line; do
    [[ $opt == - || $want == *" $opt "* ]] && printf '%s\n' "$line" >> "$WORK/pf/etc/master.cf"
  done <<'CF'
- pickup    unix  n       -       n       60      1       pickup
- cleanup   unix  n       -       n       -       0       cleanup
- qmgr      unix  n       -       n       300     1       qmgr
tlsmgr tlsmgr    unix  -       -       n       1000?   1       tlsmgr
- rewrite   unix  -       -       n       -       -       trivial-rewrite
- bounce    unix  -       -       n       -       0       bounce
- defer     unix  -       -       n       -       0       bounce
- trace     unix  -       -       n       -       0       bounce
- verify    unix  -       -       n       -       1       verify
- flush     unix  n       -       n       1000?   0       flush
- proxymap  unix  -       -       n       -       -       proxymap
proxywrite proxywrite unix -       -       n       -       1       proxymap
- smtp      unix  -       -       n       -       -       smtp
- relay     unix  -       -       n       -       -       smtp
- showq     unix  n       -       n       -       -       showq
- error     unix  -       -       n       -       -       error
- retry     unix  -       -       n       -       -       error
- discard   unix  -       -       n       -       -       discard
- local     unix  -       n       n       -       -       local
virtual virtual   unix  -       n       n       -       -       virtual
lmtp lmtp      unix  -       -       n       -       -       lmtp
- anvil     unix  -       -       n       -       1       anvil
- scache    unix  -       -       n       -       1       scache
- postlog   unix-dgram n  -       n       -       1       postlogd
CF
}
pf_stop() {
  [[ -f $WORK/pf/etc/main.cf ]] || return 0
  local pid=""; [[ -f $WORK/pf/spool/pid/master.pid ]] && pid=$(tr -d ' \n' < "$WORK/pf/spool/pid/master.pid")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1 || true
    local i; for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  MASTER_PID=""
}
pf_start() { # fresh spool, start, wait for smtpd; sets MASTER_PID and MTA_PID
  pf_stop
  rm -rf "$WORK/pf/spool" "$WORK/pf/data" "$WORK/pf/maillog"; mkdir -p "$WORK/pf/spool" "$WORK/pf/data"
  chown postfix:postfix "$WORK/pf/data"
  postfix -c "$WORK/pf/etc" check >/dev/null 2>&1 || postfix -c "$WORK/pf/etc" check
  postfix -c "$WORK/pf/etc" start >/dev/null 2>&1 || { tail -5 "$WORK/pf/maillog" >&2 || true; die "postfix start failed"; }
  for _ in $(seq 1 100); do
    [[ -s $WORK/pf/spool/pid/master.pid ]] && port_open "$PF_PORT" && break
    sleep 0.1
  done
  MASTER_PID=$(tr -d ' \n' < "$WORK/pf/spool/pid/master.pid"); MTA_PID=$MASTER_PID
  kill -0 "$MASTER_PID" || die "postfix master not running"
  sleep 1
}
# unique queue ids: qmgr renames files between directories while find walks them
pf_queue_count() { find "$WORK"/pf/spool/{maildrop,incoming,active,deferred,hold} -type f -printf '%f\n' 2>/dev/null | sort -u | wc -l; }

bench_cleanup() {
  set +e
  [[ -n $MD_PID ]] && stop_pid "$MD_PID"
  pf_stop
  local p; for p in "${PIDS[@]}"; do stop_pid "$p"; done
}
