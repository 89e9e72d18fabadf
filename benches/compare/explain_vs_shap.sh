#!/usr/bin/env bash
# Explanation time, RetentionAI against shap, on the same Telco rows in the same run.
# Creates its own Python environment (benches/compare/.venv: shap, scikit-learn, pandas,
# lightgbm), runs RetentionAI's criterion benchmark, then times shap and prints the ratios.
# Usage: benches/compare/explain_vs_shap.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=benches/compare/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet shap scikit-learn pandas lightgbm
fi
echo "== RetentionAI (criterion, cargo bench --bench explain) =="
cargo bench --bench explain
echo "== shap, same rows =="
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
"$venv/bin/python" benches/compare/explain_vs_shap.py data/telco_customer_churn.csv "$target_dir/criterion"
