#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, Rust tests.
# Needs a Rust toolchain (rustup with rustfmt and clippy) and Python 3 with
# pip: moto's S3 server is installed for the object-store tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import moto.server" >/dev/null 2>&1; then
  echo "== installing moto[server] (S3-compatible test server)"
  python3 -m pip install --quiet 'moto[server]' >/dev/null
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one result per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
