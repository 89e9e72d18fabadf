#!/usr/bin/env bash
# The main job on the bundled Telco table: build the `retention` command, train a churn model
# (auto selection with 5-fold cross-validation), score every customer, print the first rows, and
# explain a few scores.
# Outputs go to out/ (model.json, scores.csv). Set PROFILE=release for an optimised build.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-dev}"
echo "== building retention ($profile profile) =="
cargo build --profile "$profile" -p retention-cli --bin retention
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
case "$profile" in dev) sub=debug ;; *) sub="$profile" ;; esac
retention="$target_dir/$sub/retention"

mkdir -p out
echo
echo "== retention train (auto selection, 5-fold stratified cross-validation, seed 42) =="
"$retention" train --data data/telco_customer_churn.csv --target Churn --id customerID \
  --features examples/telco_features.toml --cv 5 --seed 42 --out out/model.json
echo
echo "== retention score =="
"$retention" score --model out/model.json --data data/telco_customer_churn.csv \
  --out out/scores.csv --keep Contract,tenure --show 10
echo
echo "== retention explain (why the first customers are at risk, and a what-if) =="
"$retention" explain --model out/model.json --data data/telco_customer_churn.csv \
  --id 7590-VHVEG,9237-HQITU,9305-CDSKC
"$retention" explain --model out/model.json --data data/telco_customer_churn.csv \
  --id 7590-VHVEG --set Contract="Two year"
