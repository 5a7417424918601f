#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, Rust tests,
# then a debug build of the Python package and its pytest suite.
# Needs a Rust toolchain (rustup with rustfmt and clippy) and Python >= 3.10
# with pip: moto's S3 server, maturin and the Python test dependencies are
# installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import moto.server" >/dev/null 2>&1; then
  echo "== installing moto[server] (S3-compatible test server)"
  python3 -m pip install --quiet 'moto[server]' >/dev/null
fi
if ! python3 -c "import pyarrow, pandas, duckdb, polars, tqdm, PIL, pytest, numpy, datafusion" >/dev/null 2>&1 \
  || ! command -v maturin >/dev/null 2>&1; then
  echo "== installing the Python test dependencies"
  python3 -m pip install --quiet --disable-pip-version-check \
    'maturin>=1.16,<2' pytest pyarrow numpy pandas duckdb polars tqdm pillow 'datafusion==55.0.0' >/dev/null
fi
# The loader and engine integrations are tested against the real libraries
# (never skipped). PyPI's torch is the CUDA build (about 3 GB with its
# nvidia-* wheels; it runs on CPU); with pyspark (a 456 MB sdist), Ray and
# datasets a cold install took 1 min 42 s here, and pip's cache makes later
# ones fast. Spark also needs Java 17 or newer.
if ! python3 -c "import torch, ray.data, pyspark.sql.datasource, datasets" >/dev/null 2>&1; then
  echo "== installing torch, ray[data], pyspark and datasets (engine integration tests)"
  python3 -m pip install --quiet --disable-pip-version-check \
    'torch==2.15.0' 'ray[data]==2.60.0' 'pyspark==4.3.0' 'datasets==5.2.0' >/dev/null
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo clippy (libraries alone, without test-only features, -D warnings)"
cargo clippy --workspace --lib --locked -- -D warnings
echo "== cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one result per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "rust total: %d passed, %d failed\n", p, f }' "$log"
echo "== Python package (debug build) and pytest"
wheels="$(mktemp -d)"
trap 'rm -f "$log"; rm -rf "$wheels"' EXIT
maturin build --quiet --locked --profile dev --strip -m python/Cargo.toml -o "$wheels"
python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/pilum-*.whl
python3 -m pytest python/tests -q -p no:cacheprovider
