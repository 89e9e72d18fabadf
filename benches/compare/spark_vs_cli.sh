#!/usr/bin/env bash
# Scoring through Spark (local mode, 2 cores) next to `retention score` on the same rows.
#
# Generates ROWS customers (default 1,000,000), trains a logistic model on the bundled Telco
# table, then times (best of 3, wall clock) the CLI scoring the CSV into a CSV, and Spark
# reading the same CSV, scoring it with retention.spark.score (mapInArrow, the release module)
# and writing a CSV folder; then, to show where Spark's time goes, Spark reading and writing
# without Python, and with an Arrow round trip to Python but no scoring. Prints rows/s and ratios.
#
# Usage: benches/compare/spark_vs_cli.sh      (ROWS=... to change the size)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
ROWS="${ROWS:-1000000}"

scripts/python_setup.sh --release
cargo build --release --quiet -p retention-cli
bin="$CARGO_TARGET_DIR/release/retention"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" generate --rows "$ROWS" --seed 1 --out "$work/customers.csv" >/dev/null
"$bin" train --data data/telco_customer_churn.csv --target Churn --id customerID \
  --algorithm logistic --cv 0 --out "$work/model.json" >/dev/null
sync
retention-py/.venv/bin/python benches/compare/spark_scoring.py "$bin" "$work"
