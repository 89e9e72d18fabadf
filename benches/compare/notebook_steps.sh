#!/usr/bin/env bash
# The notebook steps side by side: scikit-learn + shap + Evidently (notebook_stack.py) against
# retention (notebook_retention.py), on the Telco table and on ROWS generated customers: lines
# of notebook code, each step's time, the whole process (wall time, peak RSS) and the quality
# both reach on the same held-out customers. Prints a markdown table.
#
#   benches/compare/notebook_steps.sh            # ROWS=1000000 RUNS=3 (best of RUNS per side and size)
#
# Creates benches/compare/.venv-notebook (requirements-notebook.txt + the retentionai wheel from
# scripts/build_wheel.sh, release). /usr/bin/time (Debian's `time` package) measures the processes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-3}"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install time)" >&2; exit 1; }

venv=benches/compare/.venv-notebook
if ! "$venv/bin/python" -c 'import sklearn, shap, evidently, matplotlib, polars' 2>/dev/null; then
  echo "== Python environment ($venv) ==" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/compare/requirements-notebook.txt
fi
work="$(mktemp -d /tmp/retentionai-notebook.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "== the retentionai wheel (release) ==" >&2
wheel="$(scripts/build_wheel.sh --out "$work/wheel")"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

echo "== tables ==" >&2
cp data/telco_customer_churn.csv "$work/telco.csv"
"$venv/bin/python" - "$work" "$ROWS" <<'PY'
import sys, retention
work, rows = sys.argv[1], int(sys.argv[2])
shift = ["tenure=-6", "Contract=Month-to-month:+0.15"]
retention.generate(7043, seed=2, shift=shift).write_csv(f"{work}/telco_current.csv")
retention.generate(rows, seed=1).write_csv(f"{work}/big.csv")
retention.generate(rows, seed=2, shift=shift).write_csv(f"{work}/big_current.csv")
PY
sync

for size in telco big; do
  for side in stack retention; do
    for run in $(seq "$RUNS"); do
      out="$work/out-$size-$side-$run"
      mkdir -p "$out"
      echo "-- $size, $side, run $run" >&2
      /usr/bin/time -f '%e %M' -o "$out/time" \
        "$venv/bin/python" "benches/compare/notebook_$side.py" "$work/$size.csv" \
        "$work/${size}_current.csv" "$out" >"$out/result.json"
    done
  done
done

"$venv/bin/python" - "$work" "$RUNS" "$ROWS" <<'PY'
import json, platform, re, subprocess, sys
from pathlib import Path
import os
work, runs, rows = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
here = Path("benches/compare")

def lines(side):
    text = (here / f"notebook_{side}.py").read_text()
    body = text.split("# --- the notebook ---")[1].split("# --- end ---")[0]
    return sum(1 for l in body.splitlines()
               if l.strip() and not l.strip().startswith("#") and not l.strip().startswith("with step("))

def best(size, side):
    found = []
    for run in range(1, runs + 1):
        out = work / f"out-{size}-{side}-{run}"
        wall, rss = (out / "time").read_text().split()[-2:]
        found.append((float(wall), int(rss) / 1024, json.loads((out / "result.json").read_text())))
    return min(found, key=lambda f: f[0])

import pandas, sklearn, shap, evidently, polars, retention
print(f"{platform.node()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}; "
      f"scikit-learn {sklearn.__version__}, shap {shap.__version__}, evidently {evidently.__version__}, "
      f"pandas {pandas.__version__}, retention {retention.__version__} (release wheel), polars {polars.__version__}; "
      f"best of {runs} whole processes per cell\n")
print(f"| | scikit-learn + shap + Evidently | retention | ratio |")
print(f"|---|---|---|---|")
a, b = lines("stack"), lines("retention")
print(f"| lines of notebook code (imports included) | {a} | {b} | {a / b:.1f}× fewer |")
for size, label in (("telco", "Telco, 7,043 rows"), ("big", f"{rows:,} generated rows")):
    s, r = best(size, "stack"), best(size, "retention")
    for name in ("read", "train", "holdout", "explain", "drift"):
        x, y = s[2]["steps"][name], r[2]["steps"][name]
        print(f"| {label}: {name} (s) | {x:.2f} | {y:.2f} | {x / y:.1f}× |")
    print(f"| {label}: whole process, wall (s) | {s[0]:.2f} | {r[0]:.2f} | {s[0] / r[0]:.1f}× |")
    print(f"| {label}: whole process, peak RSS (MB) | {s[1]:,.0f} | {r[1]:,.0f} | {s[1] / r[1]:.1f}× |")
    print(f"| {label}: 5-fold CV ROC-AUC | {s[2]['cv_roc_auc']:.4f} | {r[2]['cv_roc_auc']:.4f} | |")
    for k in ("roc_auc", "pr_auc", "brier"):
        print(f"| {label}: holdout {k.replace('_', '-').upper() if k != 'brier' else 'Brier'} | "
              f"{s[2]['holdout'][k]:.4f} | {r[2]['holdout'][k]:.4f} | |")
PY
