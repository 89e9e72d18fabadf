#!/usr/bin/env bash
# Scoring 1M customers from Python against the same scoring in Rust, in one run.
#
# Rust: criterion's `scoring/frame/1000000` (benches/scoring.rs): `ChurnModel::score_frame` on
# 1M generated customers (seed 1) already in memory, logistic model trained on the bundled Telco
# table. Python: the release build of the module (scripts/python_setup.sh --release) doing
# `model.score(frame)` on the same rows (same generator, seed and model), frame already in memory,
# median of 10 runs after a warm-up. Prints both and the ratio.
#
# Usage: benches/compare/python_vs_rust.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "== building the Python module (release) =="
scripts/python_setup.sh --release
echo "== building RetentionAI (release) =="
cargo build --release --quiet -p retention-cli
bin="$CARGO_TARGET_DIR/release/retention"

echo "== Rust: cargo bench --bench scoring -- scoring/frame/1000000 =="
cargo bench --quiet --bench scoring -- 'scoring/frame/1000000$'

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" generate --rows 1000000 --seed 1 --out "$work/customers.csv" >/dev/null
sync
echo "== Python: model.score(frame) on the same rows =="
retention-py/.venv/bin/python benches/compare/python_scoring.py "$work/customers.csv" \
  "$CARGO_TARGET_DIR/criterion/scoring/frame/1000000/new/estimates.json"
