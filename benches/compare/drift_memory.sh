#!/usr/bin/env bash
# Drift on big files: whole-process wall time and peak RSS of `retention drift` (streamed),
# without and with a model, beside the floor of reading the same two files (polars reading
# both CSVs as text, one process), in the same run. Prints a markdown table.
#
#   benches/compare/drift_memory.sh              # ROWS=1000000 RUNS=3
#   ROWS=10000000 RUNS=1 benches/compare/drift_memory.sh
#   BEFORE=/path/to/older/retention benches/compare/drift_memory.sh   # adds that binary's rows
#
# Needs /usr/bin/time and a Python with polars (PYTHON, default retention-py/.venv/bin/python:
# scripts/python_setup.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-3}"
PYTHON="${PYTHON:-retention-py/.venv/bin/python}"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install time)" >&2; exit 1; }
"$PYTHON" -c 'import polars' 2>/dev/null || { echo "$PYTHON has no polars (scripts/python_setup.sh)" >&2; exit 1; }

echo "== building RetentionAI (release) ==" >&2
cargo build --release --locked --quiet -p retention-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/retention"

work="$(mktemp -d /tmp/retentionai-drift.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "== $ROWS rows per side into $work ==" >&2
"$bin" generate --rows "$ROWS" --seed 1 --out "$work/reference.csv" >&2
"$bin" generate --rows "$ROWS" --seed 2 --out "$work/current.csv" \
  --shift tenure=-6 --shift Contract=Month-to-month:+0.15 >&2
"$bin" train --data data/telco_customer_churn.csv --algorithm boosting --cv 0 \
  --out "$work/model.json" >/dev/null
sync

measure() { # name, command...
  local name="$1"; shift
  for run in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null
    echo "$name $(cat "$work/time")" >>"$work/results"
  done
}
read_both='import polars as pl, sys
for path in sys.argv[1:]:
    pl.read_csv(path, infer_schema=False)'
measure floor "$PYTHON" -c "$read_both" "$work/reference.csv" "$work/current.csv"
measure plain "$bin" drift --reference "$work/reference.csv" --current "$work/current.csv" --json
measure model "$bin" drift --reference "$work/reference.csv" --current "$work/current.csv" \
  --model "$work/model.json" --json
if [ -n "${BEFORE:-}" ]; then
  measure before_plain "$BEFORE" drift --reference "$work/reference.csv" --current "$work/current.csv" --json
  measure before_model "$BEFORE" drift --reference "$work/reference.csv" --current "$work/current.csv" \
    --model "$work/model.json" --json
fi

size=$(du -m "$work/reference.csv" | cut -f1)
python3 - "$work/results" "$ROWS" "$RUNS" "$size" <<'PY'
import sys
rows, runs, size = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
found = {}
for line in open(sys.argv[1]):
    name, wall, rss = line.split()
    found.setdefault(name, []).append((float(wall), int(rss) / 1024))
best = {k: min(v) for k, v in found.items()}
peak = {k: max(r for _, r in v) for k, v in found.items()}
floor = best["floor"][0]
print(f"{rows:,} rows per side ({size} MB of CSV each), best wall of {runs}, highest peak RSS of {runs}:\n")
print("| whole process | wall (s) | × the floor | peak RSS (MB) |")
print("|---|---|---|---|")
labels = {"floor": "floor: polars reads both CSVs (text)", "plain": "`retention drift`",
          "model": "`retention drift --model` (boosting)",
          "before_plain": "`retention drift`, BEFORE binary",
          "before_model": "`retention drift --model`, BEFORE binary"}
for k in [k for k in labels if k in best]:
    print(f"| {labels[k]} | {best[k][0]:.2f} | {best[k][0] / floor:.2f} | {peak[k]:,.0f} |")
PY
