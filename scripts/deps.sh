#!/usr/bin/env bash
# Installs what mailerd's build, tests and benchmarks need on a fresh Debian machine.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

# Debian packages:
#   swaks            an SMTP client we did not write (integration tests)
#   libsisimai-perl  Sisimai, the reference bounce analyzer (reads our DSNs; bench/explain.sh)
#   python3          smtplib as a second independent SMTP client
#   ca-certificates  TLS roots for cargo
#   postfix          the next hop of the interop test (crates/mailerd/tests/deliver_postfix.rs)
#                    and the peer of bench/relay.sh (with its smtp-source/smtp-sink)
#   time             /usr/bin/time for the benchmarks' client CPU
PKGS=(swaks libsisimai-perl python3 ca-certificates postfix time)

missing=()
for p in "${PKGS[@]}"; do
  [[ $(dpkg-query -W -f '${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
  echo "deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  # Postfix asks how to configure itself: not at all (the test and bench bring their own).
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "deps: cargo (Rust 1.95+) is required; install it with rustup" >&2
  exit 1
fi
