#!/usr/bin/env bash
# Drift statistics, RetentionAI against numpy/scipy/pandas, on the same rows in the same run.
# Creates its own Python environment (benches/compare/.venv), runs RetentionAI's criterion
# benchmark (10k, 100k, 1M rows per side, every Telco column), times the same statistics in
# Python, prints the ratios, and checks that both give the same numbers on the 1M-row tables.
# Usage: benches/compare/drift_vs_scipy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=benches/compare/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import scipy, pandas' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet shap scikit-learn pandas lightgbm scipy
fi
echo "== RetentionAI (criterion, cargo bench --bench drift) =="
cargo bench --bench drift
cargo build --release --quiet -p retention-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== numpy/scipy/pandas, same rows =="
"$venv/bin/python" benches/compare/drift_vs_scipy.py data/telco_customer_churn.csv \
  "$target_dir/criterion" "$target_dir/release/retention" "$work"
