#!/usr/bin/env bash
# The whole test suite: dependencies, formatting, lints, every test of the workspace
# (unit, role, end-to-end against real peers, corpus accuracy floors).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
