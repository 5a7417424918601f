#!/usr/bin/env bash
# The main job: builds and installs the `pilum` Python package (release
# build through maturin; the first build compiles DataFusion: about 22
# minutes on a 2-core machine, see README), then runs the multimodal walkthrough in
# examples/multimodal.py on local disk, and the Rust file/dataset demo.
# Needs a Rust toolchain (rustup) and Python >= 3.10 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo-data}"
mkdir -p "$out"
echo "== installing the walkthrough's Python dependencies"
python3 -m pip install --quiet --disable-pip-version-check pyarrow numpy pandas pillow tqdm duckdb polars
# The training step uses PyTorch (PyPI's build is the CUDA one, ~3 GB; it runs on CPU).
python3 -c "import torch" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'torch==2.15.0'
echo "== building and installing the pilum package (pip install ./python)"
python3 -m pip install --quiet --disable-pip-version-check ./python
echo "== multimodal walkthrough (Python)"
python3 examples/multimodal.py "$out/python"
echo "== file and dataset demo (Rust)"
cargo run --release --quiet -p pilum --example demo -- "$out/rust"
