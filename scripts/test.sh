#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, Rust tests.
# Needs only a Rust toolchain (rustup with rustfmt and clippy).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
