#!/usr/bin/env bash
# Generates testdata/bounces-generated/: bounces written by real MTAs from Debian's packages
# (Postfix, Exim 4, ...), each relaying to a scripted next hop (gen-mta-bounces/nexthop.py)
# that answers with the replies of gen-mta-bounces/cases.py, and sending its bounce back to
# that same server, which keeps it (null sender) as an .eml file.
#
# Needs root, Debian's apt (the packages are fetched with `apt-get download`, unpacked with
# `dpkg-deb -x` under $WORK; nothing is installed), for Haraka node and npm (installed from
# the npm registry under $WORK), and loopback only. Not run by CI.
#
# usage: scripts/gen-mta-bounces.sh [MTA...]     (postfix, postfix-retry, exim, opensmtpd, sendmail,
#                                                 courier, dma, nullmailer, haraka; default: postfix)
#        LABEL_ONLY=1 scripts/gen-mta-bounces.sh MTA...   relabel the MTAs' last runs (label.py
#                                                         changed), running none
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
H=$HERE/gen-mta-bounces
WORK=${WORK:-/var/tmp/mailerd-gen-mta}
OUT=$REPO/testdata/bounces-generated
PKG=$WORK/pkg
NEXTHOP_PORT=2526
MTA_PORT=2625
DEAD_PORT=2599   # nothing listens here: connection refused
MTAS=("$@")
[ ${#MTAS[@]} -gt 0 ] || MTAS=(postfix)

fetch() { # fetch NAME DEB-PACKAGE...
  local name=$1; shift
  [ "$(cat "$WORK/debs/$name.stamp" 2>/dev/null)" = "$*" ] && return
  rm -rf "$WORK/debs/$name" "$PKG/$name"
  mkdir -p "$WORK/debs/$name" "$PKG/$name"
  (cd "$WORK/debs/$name" && apt-get download "$@" >/dev/null)
  for d in "$WORK/debs/$name"/*.deb; do dpkg-deb -x "$d" "$PKG/$name"; done
  echo "$*" >"$WORK/debs/$name.stamp"
}

version() { # version DEB-FILE-PREFIX (apt-get download writes an epoch's ':' as %3a)
  ls "$WORK/debs/$1" | sed -n "s/^${2}_\([^_]*\)_.*/\1/p" | sed 's/%3a/:/' | head -1
}

listening() { # listening PORT TENTHS: whether something accepts on 127.0.0.1:PORT within TENTHS/10 s
  for _ in $(seq "$2"); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()" 2>/dev/null && return
    sleep 0.1
  done
  return 1
}

NEXTHOP_PID=
start_nexthop() { # start_nexthop OUTDIR
  python3 "$H/nexthop.py" $NEXTHOP_PORT "$1" &
  NEXTHOP_PID=$!
  listening $NEXTHOP_PORT 50 && return
  echo "next hop did not start" >&2; exit 1
}
stop_nexthop() { [ -n "$NEXTHOP_PID" ] && kill "$NEXTHOP_PID" 2>/dev/null; wait "$NEXTHOP_PID" 2>/dev/null || true; NEXTHOP_PID=; }
trap stop_nexthop EXIT

# The number of notices the cases lead to: one per single-recipient case (SKIP: cases not
# run), and per multi-recipient message one for its permanent failures and one for its
# temporary ones (ONE_NOTICE=1: one in all; PER_RECIPIENT=1: one per failed recipient;
# NO_MULTI=1: none run); WARNINGS=1: and a delay warning per message with a temporary one.
expected_bounces() {
  python3 - "$H" <<'PY'
import os
import sys
sys.path.insert(0, sys.argv[1])
import cases
skip = set(os.environ.get('SKIP', '').split())
cases_run = [c for c in cases.CASES if c['id'] not in skip]
multi = [] if os.environ.get('NO_MULTI') else [
    [cases.BY_ID[m] for m in members if m in cases.BY_ID and m not in skip]
    for _, members in cases.MULTI]
n = len(cases_run)
for members in multi:
    kinds = {cases.temporary(c) for c in members}
    # Courier reports all of a message's failures in one notice, when the last one is final;
    # dma one per failed recipient
    if os.environ.get('PER_RECIPIENT'):
        n += len(members)
    elif os.environ.get('ONE_NOTICE'):
        n += min(len(kinds), 1)
    else:
        n += len(kinds)
# WARNINGS=1: a delay warning too for every message with a temporary failure
if os.environ.get('WARNINGS'):
    n += len([c for c in cases_run if cases.temporary(c)])
    n += len([ms for ms in multi if any(cases.temporary(c) for c in ms)])
print(n)
PY
}

wait_for_bounces() { # wait_for_bounces DIR SECONDS [QUIET]: until every expected notice is
  # there, or no new file for QUIET s (20) once the early ones are in
  local dir=$1 deadline=$((SECONDS + $2)) quiet=${3:-20} last=-1 same=0 want
  want=$(expected_bounces)
  while [ $SECONDS -lt $deadline ]; do
    n=$(ls "$dir" | wc -l)
    [ "$n" -ge "$want" ] && return
    if [ "$n" = "$last" ] && [ "$n" -gt 0 ]; then same=$((same + 1)); else same=0; last=$n; fi
    [ $same -ge "$quiet" ] && { echo "$dir: $n of $want notices, none new for $quiet s" >&2; return; }
    sleep 1
  done
  echo "$dir: $(ls "$dir" | wc -l) of $want notices at the deadline" >&2
}

private_users() { # private_users DIR NAME:ID...: DIR/passwd and DIR/group, the system's
  # with these users added, for a bind mount in a private mount namespace (the system's files
  # are not changed)
  local d=$1 u; shift
  cp /etc/passwd "$d/passwd"; cp /etc/group "$d/group"
  for u in "$@"; do
    grep -q "^${u%%:*}:" "$d/passwd" || echo "${u%%:*}:x:${u#*:}:${u#*:}::/nonexistent:/usr/sbin/nologin" >>"$d/passwd"
    grep -q "^${u%%:*}:" "$d/group" || echo "${u%%:*}:x:${u#*:}:" >>"$d/group"
  done
}

overlays() { # overlays RUNDIR PKGROOT DIR...: the lines of a private mount namespace's script
  # that lay the unpacked package's PKGROOT/DIR over /DIR (an overlay; writes go to RUNDIR/ov)
  local d=$1 p=$2 x; shift 2
  for x in "$@"; do
    echo "mkdir -p $d/ov/$x/up $d/ov/$x/wk"
    echo "mount -t overlay overlay -o lowerdir=$p/$x:/$x,upperdir=$d/ov/$x/up,workdir=$d/ov/$x/wk /$x"
  done
}

drive() { # drive MTA PID SECONDS QUIET PACKAGE: inject the cases into the MTA running as PID,
  # wait for its bounces (wait_for_bounces SECONDS QUIET), stop it, record PACKAGE's version
  # (none when PACKAGE is empty)
  local mta=$1 pid=$2
  sleep 2
  python3 "$H/inject.py" $MTA_PORT
  wait_for_bounces "$RAW/$mta" "$3" "$4"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ -z "$5" ] || printf '%s\t%s\t%s\n' "$mta" "$5" "$(version "$mta" "$5")" >>"$VERSIONS"
}

run_postfix() { # run_postfix [postfix-retry]: the second, with a queue lifetime and warnings
  local m=${1:-postfix}
  fetch postfix postfix
  local d=$WORK/run/$m conf=$WORK/run/$m/etc p=$PKG/postfix
  rm -rf "$d"; mkdir -p "$conf" "$d/spool" "$d/data"
  getent passwd postfix >/dev/null || useradd --system --no-create-home postfix
  getent group postdrop >/dev/null || groupadd --system postdrop
  cp "$p/etc/postfix/postfix-files" "$conf/"
  cp -r "$p/etc/postfix/postfix-files.d" "$conf/" 2>/dev/null || true
  cp "$p/etc/postfix/dynamicmaps.cf" "$conf/" 2>/dev/null || true
  # postfix: a 4xx is bounced at once (queue lifetime 0), with the reply; postfix-retry:
  # retried every 5-10 s until the 40 s lifetime ends, with one delay warning at 15 s
  local lifetimes='maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
delay_warning_time = 0'
  [ "$m" = postfix ] || lifetimes='maximal_queue_lifetime = 40s
bounce_queue_lifetime = 40s
delay_warning_time = 15s
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s'
  cat >"$conf/main.cf" <<CF
compatibility_level = 3.6
myhostname = mta-$m.gen.test
mydomain = gen.test
myorigin = gen.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
queue_directory = $d/spool
data_directory = $d/data
command_directory = $p/usr/sbin
daemon_directory = $p/usr/lib/postfix/sbin
shlib_directory = $p/usr/lib/postfix
meta_directory = $conf
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ=UTC LANG=C LD_LIBRARY_PATH=$p/usr/lib/postfix
relayhost = [127.0.0.1]:$NEXTHOP_PORT
transport_maps = regexp:$conf/transport
smtp_host_lookup = native
smtp_dns_support_level = disabled
$lifetimes
smtpd_banner = \$myhostname ESMTP
maillog_file = $d/maillog
smtp_tls_security_level = none
smtpd_tls_security_level = none
CF
  printf '/^refused@/ smtp:[127.0.0.1]:%s\n' $DEAD_PORT >"$conf/transport"
  cat >"$conf/master.cf" <<CF
127.0.0.1:$MTA_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000    0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
  export LD_LIBRARY_PATH=$p/usr/lib/postfix
  "$p/usr/sbin/postfix" -c "$conf" set-permissions >/dev/null 2>&1 || true
  "$p/usr/sbin/postfix" -c "$conf" start
  sleep 2
  python3 "$H/inject.py" $MTA_PORT
  if [ "$m" = postfix ]; then
    wait_for_bounces "$RAW/$m" 300
  else
    WARNINGS=1 wait_for_bounces "$RAW/$m" 300 40
  fi
  "$p/usr/sbin/postfix" -c "$conf" stop || true
  unset LD_LIBRARY_PATH
  printf '%s\tpostfix\t%s\n' "$m" "$(version postfix postfix)" >>"$VERSIONS"
}

run_postfix-retry() { run_postfix postfix-retry; }

run_exim() {
  fetch exim exim4-daemon-light libidn12
  local d=$WORK/run/exim p=$PKG/exim
  rm -rf "$d"; mkdir -p "$d/spool" "$d/log"
  # the binary needs its compiled-in user Debian-exim
  private_users "$d" Debian-exim:60025
  local uid; uid=$(sed -n 's/^Debian-exim:x:\([0-9]*\):.*/\1/p' "$d/passwd")
  chown -R "$uid:$uid" "$d/spool" "$d/log"
  # Exim re-executes itself (exim_path) for every delivery with a cleaned environment, so
  # the unpacked binary would lose LD_LIBRARY_PATH (libidn12 is unpacked beside it): exim_path
  # is a wrapper that sets it again.
  cat >"$d/exim4" <<SH
#!/bin/sh
LD_LIBRARY_PATH=$p/usr/lib/x86_64-linux-gnu exec $p/usr/sbin/exim4 "\$@"
SH
  chmod 755 "$d/exim4"
  # and the unpacked binary is setuid root: run by the exim user (as it is to submit a
  # bounce) it would start in secure mode, where the loader ignores LD_LIBRARY_PATH
  chmod u-s "$p/usr/sbin/exim4"
  cat >"$d/exim.conf" <<CF
primary_hostname = mta-exim.gen.test
exim_path = $d/exim4
keep_environment = LD_LIBRARY_PATH
qualify_domain = gen.test
exim_user = Debian-exim
exim_group = Debian-exim
never_users = nobody
spool_directory = $d/spool
log_file_path = $d/log/%slog
daemon_smtp_ports = $MTA_PORT
local_interfaces = 127.0.0.1
host_lookup =
rfc1413_hosts =
acl_smtp_rcpt = acl_check_rcpt
# one delay warning 15 s after arrival (the last time in the list repeats: 1d), before the
# retry rule gives up at 40 s
delay_warning = 15s : 1d
ignore_bounce_errors_after = 0s
timeout_frozen_after = 0s
tls_advertise_hosts =
begin acl
acl_check_rcpt:
  accept
begin routers
refused:
  driver = manualroute
  local_parts = refused
  transport = dead_smtp
  route_list = * 127.0.0.1
  self = send
smarthost:
  driver = manualroute
  transport = remote_smtp
  route_list = * 127.0.0.1
  self = send
begin transports
remote_smtp:
  driver = smtp
  port = $NEXTHOP_PORT
  hosts_avoid_tls = *
dead_smtp:
  driver = smtp
  port = $DEAD_PORT
begin retry
* * F,40s,10s
CF
  LD_LIBRARY_PATH=$p/usr/lib/x86_64-linux-gnu unshare -m sh -c \
    "mount --bind '$d/passwd' /etc/passwd && mount --bind '$d/group' /etc/group && exec '$d/exim4' -C '$d/exim.conf' -bdf -q5s" &
  # the 5xx bounces come at once, the 4xx ones only when the retry rule gives up (40 s)
  WARNINGS=1 drive exim $! 240 70 exim4-daemon-light
}

run_opensmtpd() {
  fetch opensmtpd opensmtpd
  local d=$WORK/run/opensmtpd p=$PKG/opensmtpd
  rm -rf "$d"; mkdir -p "$d"
  # its compiled-in users (opensmtpd, opensmtpq), and its compiled-in spool
  # (/var/spool/smtpd) and chroot (/var/lib/opensmtpd/empty) on tmpfs, in the private mount
  # namespace
  private_users "$d" opensmtpd:60031 opensmtpq:60032
  # a 4xx reply or a refused connection is retried until the envelope's 40 s expire. After a
  # 421 (the next hop then closes) OpenSMTPD holds back the route for a while, and what waits
  # on it expires too: the two 421 cases and the bounces get routes of their own (the next
  # hop's other addresses)
  cat >"$d/smtpd.conf" <<CF
queue ttl 40s
bounce warn-interval 15s
listen on 127.0.0.1 port $MTA_PORT hostname mta-opensmtpd.gen.test
action "dead" relay host smtp://127.0.0.1:$DEAD_PORT
action "out" relay host smtp://127.0.0.1:$NEXTHOP_PORT
action "bounces" relay host smtp://127.0.0.2:$NEXTHOP_PORT
action "closing" relay host smtp://127.0.0.3:$NEXTHOP_PORT
match from any for domain "sender.test" action "bounces"
match from any for any rcpt-to { "toomany-conn@remote.test", "yahoo-tss04@remote.test" } action "closing"
match from any for any rcpt-to "refused@remote.test" action "dead"
match from any for any action "out"
CF
  unshare -m sh -c "mount --bind '$d/passwd' /etc/passwd && mount --bind '$d/group' /etc/group \
    && mount -t tmpfs tmpfs /var/spool && mount -t tmpfs tmpfs /var/lib \
    && mkdir -p /var/lib/opensmtpd/empty \
    && exec '$p/usr/sbin/smtpd' -d -f '$d/smtpd.conf'" >"$d/log" 2>&1 &
  WARNINGS=1 drive opensmtpd $! 300 150 opensmtpd
}

run_sendmail() {
  fetch sendmail sendmail-bin sendmail-cf libmilter1.0.1 m4
  local d=$WORK/run/sendmail p=$PKG/sendmail
  rm -rf "$d"; mkdir -p "$d/spool"; chmod 700 "$d/spool"
  # sendmail sleeps a minute at start-up when its host name has no domain: a private
  # /etc/hosts with one, in a private mount namespace
  { cat /etc/hosts; echo "127.0.0.1 $(hostname).gen.test $(hostname)"; } >"$d/hosts"
  printf 'hosts files\naliases files\n' >"$d/service.switch"
  # everything to the next hop, refused@ to the dead port, through two mailers of our own
  # (a SMART_HOST of [127.0.0.1] is one of our own addresses to sendmail, so it ignores it);
  # a 4xx reply or a refused connection is retried until Timeout.queuereturn (40 s)
  sed -e "s|@D@|$d|g" -e "s|@HOP@|$NEXTHOP_PORT|g" -e "s|@DEAD@|$DEAD_PORT|g" -e "s|@PORT@|$MTA_PORT|g" >"$d/gen.mc" <<'MC'
divert(0)dnl
VERSIONID(`mailerd gen-mta-bounces')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `mta-sendmail.gen.test')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confSERVICE_SWITCH_FILE', `@D@/service.switch')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`QUEUE_DIR', `@D@/spool')dnl
define(`STATUS_FILE', `@D@/statistics')dnl
define(`confPID_FILE', `@D@/sendmail.pid')dnl
define(`ALIAS_FILE', `')dnl
define(`confTO_QUEUERETURN', `40s')dnl
define(`confTO_QUEUEWARN', `15s')dnl
define(`confMIN_QUEUE_AGE', `0')dnl
FEATURE(`nocanonify')dnl
FEATURE(`promiscuous_relay')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`accept_unqualified_senders')dnl
DAEMON_OPTIONS(`Port=@PORT@, Addr=127.0.0.1, Name=MTA')dnl
MAILER(`smtp')dnl
MAILER_DEFINITIONS
Mdead,	P=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\r\n, L=990,
	T=DNS/RFC822/SMTP, A=TCP $h @DEAD@
Mhop,	P=[IPC], F=mDFMuXa, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, E=\r\n, L=990,
	T=DNS/RFC822/SMTP, A=TCP $h @HOP@
LOCAL_RULE_0
Rrefused < @ remote.test . > $*	$#dead $@ [127.0.0.1] $: refused < @ remote.test . >
R$* < @ remote.test . > $*	$#hop $@ [127.0.0.1] $: $1 < @ remote.test . > $2
R$* < @ sender.test . > $*	$#hop $@ [127.0.0.1] $: $1 < @ sender.test . > $2
MC
  "$p/usr/bin/m4" -D_CF_DIR_="$p/usr/share/sendmail/cf/" "$p/usr/share/sendmail/cf/m4/cf.m4" \
    "$d/gen.mc" >"$d/gen.cf" 2>"$d/m4.log"
  unshare -m sh -c "mount --bind '$d/hosts' /etc/hosts \
    && exec '$p/usr/libexec/sendmail/sendmail' -C '$d/gen.cf' -bD -q10s" >"$d/log" 2>&1 &
  WARNINGS=1 drive sendmail $! 240 70 sendmail-bin
}

run_courier() {
  fetch courier courier-mta courier-base courier-authlib courier-authdaemon courier-authlib-userdb \
    libcourier-unicode4 libnet-cidr-perl libgamin0 libgdbm-compat4 libidn12 libpcre3 libltdl7
  local d=$WORK/run/courier p=$PKG/courier
  rm -rf "$d"; mkdir -p "$d"
  private_users "$d" courier:60041
  # Courier's paths are compiled in (/usr/lib/courier, /etc/courier, /var/lib/courier,
  # /run/courier): in a private mount namespace the unpacked package is laid over /usr and
  # /etc (overlays whose writes stay in $d), /var/lib and /run are empty tmpfs. Its esmtproutes
  # route by domain only, so the `refused` case (one address to a dead port) is not run.
  # A 4xx reply is retried every 10 s until queuetime (40 s) ends.
  cat >"$d/inner.sh" <<SH
#!/bin/sh
set -e
$(overlays "$d" "$p" usr etc)
mount -t tmpfs tmpfs /run; mkdir -p /run/courier
mount -t tmpfs tmpfs /var/lib; cp -a $p/var/lib/courier /var/lib/courier
cp $d/passwd /etc/passwd; cp $d/group /etc/group
chown -R courier:courier /var/lib/courier /run/courier
C=/etc/courier
echo mta-courier.gen.test >\$C/me
echo gen.test >\$C/defaultdomain
echo localhost >\$C/locals
printf 'remote.test: [127.0.0.1],$NEXTHOP_PORT\nsender.test: [127.0.0.1],$NEXTHOP_PORT\n' >\$C/esmtproutes
echo 40s >\$C/queuetime
# a delay warning 15 s after arrival (the recipients still retried then)
echo 15s >\$C/warntime
echo 10s >\$C/retryalpha; echo 1 >\$C/retrybeta; echo 10s >\$C/retrygamma; echo 1 >\$C/retrymaxdelta
rm -rf \$C/smtpaccess; mkdir \$C/smtpaccess
printf '127.0.0.1\tallow,RELAYCLIENT\n' >\$C/smtpaccess/default
sed -i -e 's/^PORT=.*/PORT=$MTA_PORT/' -e 's/^BOFHCHECKDNS=.*/BOFHCHECKDNS=0/' -e 's/^TARPIT=.*/TARPIT=0/' \
  -e 's|^TCPDOPTS=.*|TCPDOPTS="-noidentlookup -nodnslookup"|' -e 's/^ESMTPDSTART=.*/ESMTPDSTART=YES/' \$C/esmtpd
echo ADDRESS=127.0.0.1 >>\$C/esmtpd
# Debian's postinst makes this alternative
ln -sf makedat.courier /usr/bin/makedat
/usr/lib/courier/makesmtpaccess
/usr/sbin/courier start
/usr/sbin/esmtpd start
trap '/usr/sbin/esmtpd stop; /usr/sbin/courier stop; exit 0' TERM INT
while :; do sleep 1; done
SH
  chmod 755 "$d/inner.sh"
  unshare -m "$d/inner.sh" >"$d/log" 2>&1 &
  SKIP=refused ONE_NOTICE=1 WARNINGS=1 drive courier $! 240 70 courier-mta
}

run_dma() {
  fetch dma dma
  local d=$WORK/run/dma p=$PKG/dma f
  rm -rf "$d"; mkdir -p "$d/spool"
  chown mail:mail "$d/spool"; chmod 775 "$d/spool"
  : >"$d/aliases"
  # dma has no SMTP listener: the cases are piped to it, sendmail-style. It reads the
  # compiled-in /etc/dma/dma.conf, laid over /etc in a private mount namespace. It sends
  # everything to one smarthost, so the `refused` case is not run, and delivers each
  # recipient on its own (a notice per recipient). A temporary failure is retried in the
  # delivery process itself, first after 5 minutes, until the queue file is 5 days old: the
  # files of those still queued are dated back 6 days, so the next retry gives up.
  cat >"$d/dma.conf" <<CF
SMARTHOST 127.0.0.1
PORT $NEXTHOP_PORT
SPOOLDIR $d/spool
ALIASES $d/aliases
MAILNAME mta-dma.gen.test
NULLCLIENT
CF
  cat >"$d/inner.sh" <<SH
#!/bin/sh
set -e
$(overlays "$d" "$p" etc)
mkdir -p /etc/dma; cp $d/dma.conf /etc/dma/dma.conf
SKIP=refused python3 $H/inject.py --command "$p/usr/sbin/dma -f sender@sender.test"
SH
  chmod 755 "$d/inner.sh"
  unshare -m "$d/inner.sh" >"$d/log" 2>&1
  sleep 30
  for f in "$d/spool"/*; do [ -e "$f" ] && touch -d '6 days ago' "$f"; done
  SKIP=refused PER_RECIPIENT=1 wait_for_bounces "$RAW/dma" 480 330
  pkill -f "^$p/usr/sbin/dma" || true
  printf 'dma\tdma\t%s\n' "$(version dma dma)" >>"$VERSIONS"
}

run_nullmailer() {
  fetch nullmailer nullmailer
  local d=$WORK/run/nullmailer p=$PKG/nullmailer
  rm -rf "$d"; mkdir -p "$d"
  # nullmailer's paths are compiled in (/etc/nullmailer, /var/spool/nullmailer, its helpers
  # under /usr): in a private mount namespace the package is laid over /usr and /etc, with a
  # tmpfs spool. It hands everything to one remote (the next hop), so `refused` is not run;
  # it fails a whole message at its first refused recipient and gives that reply for every
  # recipient, so the multi-recipient messages are not run either (NO_MULTI=1). A 4xx is
  # retried every 5-10 s until `queuelifetime` (40 s). Its send daemon runs as `mail`, as
  # Debian's service does.
  cat >"$d/inner.sh" <<SH
#!/bin/sh
set -e
$(overlays "$d" "$p" usr etc)
mount -t tmpfs tmpfs /var/spool
mkdir -p /var/spool/nullmailer/queue /var/spool/nullmailer/tmp /var/spool/nullmailer/failed
mkfifo /var/spool/nullmailer/trigger
chown -R mail:mail /var/spool/nullmailer; chmod 622 /var/spool/nullmailer/trigger
mkdir -p /etc/nullmailer
echo "127.0.0.1 smtp --port=$NEXTHOP_PORT" >/etc/nullmailer/remotes
# Debian's nullmailer takes its host name from /etc/mailname, not from 'me'
echo mta-nullmailer.gen.test >/etc/mailname
echo gen.test >/etc/nullmailer/defaultdomain
echo 40 >/etc/nullmailer/queuelifetime
echo 5 >/etc/nullmailer/pausetime
echo 10 >/etc/nullmailer/maxpause
setpriv --reuid=mail --regid=mail --init-groups /usr/sbin/nullmailer-send >$d/send.log 2>&1 &
send=\$!
sleep 1
SKIP=refused NO_MULTI=1 python3 $H/inject.py --command "/usr/sbin/sendmail -f sender@sender.test"
trap 'kill \$send; exit 0' TERM INT
while :; do sleep 1; done
SH
  chmod 755 "$d/inner.sh"
  unshare -m "$d/inner.sh" >"$d/log" 2>&1 &
  local pid=$!
  SKIP=refused NO_MULTI=1 wait_for_bounces "$RAW/nullmailer" 240 70
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf 'nullmailer\tnullmailer\t%s\n' "$(version nullmailer nullmailer)" >>"$VERSIONS"
}

run_haraka() {
  # Haraka (Node.js) from the npm registry, with the machine's node and npm
  local v=3.3.4 d=$WORK/run/haraka n=$WORK/npm/haraka
  if [ "$(cat "$n.stamp" 2>/dev/null)" != "$v" ]; then
    rm -rf "$n"; mkdir -p "$n"
    (cd "$n" && npm install --no-audit --no-fund "Haraka@$v" >/dev/null 2>&1)
    echo "$v" >"$n.stamp"
  fi
  local h=$n/node_modules/Haraka
  rm -rf "$d"; mkdir -p "$d/plugins" "$d/queue"
  # its shipped configuration (the bounce templates are in it), with a plugin of ours that
  # lets every client relay and routes by the case (refused@ to the dead port), listening
  # on MTA_PORT, no outbound TLS, a 4xx retried 3 times 10 s apart, then bounced. It writes
  # a multi-recipient notice without any recipient's status or reply when some were refused
  # at RCPT ("Some recipients failed: <a>, <b>"; 3.3.4), so the mixes are not run.
  cp -r "$h/config" "$d/config"
  cat >"$d/plugins/gen.js" <<JS
// mailerd gen-mta-bounces: relay for every client; route by the case
exports.hook_rcpt = function (next, connection) {
    connection.relaying = true
    next(OK)
}
exports.hook_get_mx = function (next, hmail, domain) {
    const refused = hmail.todo.rcpt_to.some((a) => a.user === 'refused')
    next(OK, { priority: 0, exchange: '127.0.0.1', port: refused ? $DEAD_PORT : $NEXTHOP_PORT })
}
JS
  printf 'gen\n' >"$d/config/plugins"
  printf 'listen=127.0.0.1:%s\nnodes=0\n' $MTA_PORT >"$d/config/smtp.ini"
  printf 'mta-haraka.gen.test\n' >"$d/config/me"
  printf 'temp_fail_intervals=10s*3\nenable_tls=false\n' >"$d/config/outbound.ini"
  (cd "$d" && exec node "$h/bin/haraka" -c "$d" >"$d/log" 2>&1) &
  local pid=$!
  listening $MTA_PORT 100 || echo "haraka: nothing listens on $MTA_PORT yet" >&2
  NO_MULTI=1 drive haraka $pid 180 60 ''
  printf 'haraka\tHaraka (npm)\t%s\n' "$v" >>"$VERSIONS"
}

mkdir -p "$WORK"
# $RAW/MTA holds what the next hop kept of one MTA's last run: a run replaces only its own
# MTA's directory, so LABEL_ONLY=1 can relabel every MTA run before without running any.
RAW=$WORK/raw
VERSIONS=$WORK/versions.tsv
mkdir -p "$RAW"
if [ "${LABEL_ONLY:-0}" = 1 ]; then
  for m in "${MTAS[@]}"; do
    [ -d "$RAW/$m" ] || { echo "no $RAW/$m: run $m once first" >&2; exit 1; }
  done
  python3 "$H/label.py" "$RAW" "$OUT" "${MTAS[@]}"
  echo "relabelled $OUT from $RAW"
  exit 0
fi
printf 'mta\tpackage\tversion\n' >"$VERSIONS"
for m in "${MTAS[@]}"; do
  rm -rf "${RAW:?}/$m"
  start_nexthop "$RAW/$m"
  "run_$m"
  stop_nexthop
done
python3 "$H/label.py" "$RAW" "$OUT" "${MTAS[@]}"
# versions: this run's MTAs, and the others' lines as they were, sorted by MTA so that a
# rerun changes only the lines whose version changed
{ printf 'mta\tpackage\tversion\n'
  { tail -n +2 "$VERSIONS"; tail -n +2 "$OUT/versions.tsv" 2>/dev/null | while IFS= read -r line; do
      case " ${MTAS[*]} " in *" ${line%%$'\t'*} "*) ;; *) printf '%s\n' "$line" ;; esac
    done; } | LC_ALL=C sort -t "$(printf '\t')" -k1,1; } >"$VERSIONS.all"
mv "$VERSIONS.all" "$OUT/versions.tsv"
echo "wrote $OUT"
