#!/usr/bin/env bash
# RetentionAI beside scikit-learn, LightGBM, shap, scipy and polars: one command, one table.
#
# Creates benches/compare/.venv (pinned in requirements.txt), builds the release binary, generates
# Telco-shaped customers with `retention generate`, runs the latency and explain benchmarks, then
# times every task on both sides on the same files (benches/compare/compare.py says how).
#
# Usage: benches/compare/run.sh
# Environment: ROWS (default 1000000) for training, scoring and drift; BOOST_ROWS (default ROWS)
# for training boosting; SCALE=0 skips scoring 10 x ROWS (a 1.4 GB file at the default) for the
# memory check. CV ROC-AUC is measured on the real Telco table (data/telco_customer_churn.csv):
# generated rows are resampled Telco customers, so their folds share near-copies and reward
# memorising.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${ROWS:-1000000}"
BOOST_ROWS="${BOOST_ROWS:-$ROWS}"
SCALE="${SCALE:-1}"

venv=benches/compare/.venv
if ! "$venv/bin/python" -c 'import sklearn, lightgbm, shap, scipy, polars, pandas' 2>/dev/null; then
  echo "== Python environment ($venv) =="
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet -r benches/compare/requirements.txt
fi

echo "== building RetentionAI (release) =="
cargo build --release --quiet -p retention-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/retention"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== generating customers into $work =="
"$bin" generate --rows "$ROWS" --seed 1 --out "$work/train.csv"
"$bin" generate --rows "$ROWS" --seed 2 --out "$work/current.csv" \
  --shift tenure=-6 --shift Contract=Month-to-month:+0.15
head -n "$((BOOST_ROWS + 1))" "$work/train.csv" > "$work/boost.csv"
cp data/telco_customer_churn.csv "$work/cv.csv"
if [ "$SCALE" = 1 ]; then
  "$bin" generate --rows "$((ROWS * 10))" --seed 3 --out "$work/big.csv"
fi
# Flush the generated files to disk now, not while something is being timed.
sync

echo "== RetentionAI single-row latency (cargo bench --bench latency) =="
RETENTION_LATENCY_JSON="$work/latency.json" cargo bench --quiet --bench latency
echo "== RetentionAI explanations of 1,000 rows (cargo bench --bench explain) =="
cargo bench --quiet --bench explain -- '/1000$'

echo "== side by side =="
"$venv/bin/python" benches/compare/compare.py "$bin" "$work" "$work/latency.json" "$target_dir/criterion"
