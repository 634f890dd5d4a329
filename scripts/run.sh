#!/usr/bin/env bash
# First command of the README: install what is needed, build mailerd in release mode, and run
# it on its embedded default (data in ./mailerd-data, loopback listeners, a self-signed
# certificate). Extra arguments go to `mailerd serve` (e.g. --config mailerd.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -p mailerd
exec target/release/mailerd serve "$@"
