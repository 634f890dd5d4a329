#!/usr/bin/env bash
# Installs what mailerd's build, tests and benchmarks need on a fresh Debian machine.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

# Debian packages:
#   swaks            an SMTP client we did not write (integration tests)
#   libsisimai-perl  Sisimai, the reference bounce analyzer (reads our DSNs; bench/explain.sh)
#   python3          smtplib as a second independent SMTP client
#   ca-certificates  TLS roots for cargo
#   postfix          smtp-source/smtp-sink for the benchmarks, the Postfix we compare against,
#                    and the next hop of the interop test (tests/deliver_postfix.rs);
#                    preseeded "No configuration" so that it does not start a system MTA
#   time             /usr/bin/time (CPU of smtp-source in the benchmarks)
#   iproute2         `ip` (loopback inside the benchmark's network namespace)
PKGS=(swaks libsisimai-perl python3 ca-certificates postfix time iproute2)

missing=()
for p in "${PKGS[@]}"; do
  [[ $(dpkg-query -W -f '${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO=sudo
  echo "deps: installing ${missing[*]}" >&2
  if [[ " ${missing[*]} " == *" postfix "* ]]; then
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "deps: cargo (Rust 1.95+) is required; install it with rustup" >&2
  exit 1
fi
