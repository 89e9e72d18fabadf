#!/usr/bin/env bash
# retention.spark on a real Spark standalone cluster on this machine: a master and two workers
# (separate JVMs), the executors' Python from a packed virtual environment that holds the
# retentionai wheel (shipped with the job by --archives, as the README's cluster recipe says).
#
#   scripts/spark_cluster.sh            # ROWS (default 1000000), PROFILE=release|dev (wheel build)
#
# 1. builds the wheel with maturin and packs a virtual environment with it, polars and pyarrow
#    (venv-pack);
# 2. generates ROWS customers (CSV and Parquet) and trains a logistic model with the CLI;
# 3. starts the master and two workers (one core each) with PySpark's spark-class;
# 4. spark-submit: reads the Parquet, scores it with retention.spark.score (best of 3, written
#    as Parquet) and computes drift
#    (retention.spark.drift) between two halves of the table on the cluster, and the same in
#    local mode (`local[2]`) for comparison, where the scoring is also timed reading the CSV
#    and sending every column to Python;
# 5. checks the cluster's scores equal `retention score` on the same rows and its drift report
#    equals `retention drift`'s, and prints rows, equality and times.
# Exit status 0 when both are equal.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
PROFILE="${PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retentionai/target}"
venv=retention-py/.venv
[ -x "$venv/bin/python" ] || scripts/python_setup.sh
py="$PWD/$venv/bin/python"

work="$(mktemp -d /tmp/retentionai-spark.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. wheel ($PROFILE) and the packed environment =="
profile=()
[ "$PROFILE" = release ] || profile=(--dev)
scripts/build_wheel.sh --out "$work/wheels" "${profile[@]}" >/dev/null
if [ "$PROFILE" = release ]; then
    cargo build --release --quiet -p retention-cli
    bin="$CARGO_TARGET_DIR/release/retention"
else
    cargo build --quiet -p retention-cli
    bin="$CARGO_TARGET_DIR/debug/retention"
fi
python3 -m venv "$work/env"
"$work/env/bin/pip" install --quiet --disable-pip-version-check "$work"/wheels/retentionai-*.whl \
    "polars==$("$py" -c 'import polars; print(polars.__version__)')" \
    "pyarrow==$("$py" -c 'import pyarrow; print(pyarrow.__version__)')" venv-pack
"$work/env/bin/venv-pack" -q -p "$work/env" -o "$work/env.tar.gz"
echo "packed $(du -h "$work/env.tar.gz" | cut -f1) environment"
# The driver (and local mode's workers) run the same release module from the unpacked
# environment, with PySpark and pandas (PySpark's driver needs it) added there after packing
# (the executors get PySpark from Spark).
"$work/env/bin/pip" install --quiet --disable-pip-version-check \
    "pyspark==$("$py" -c 'import pyspark; print(pyspark.__version__)')" \
    "pandas==$("$py" -c 'import pandas; print(pandas.__version__)')"
driver="$work/env/bin/python"

echo "== 2. $ROWS customers, a model =="
"$bin" generate --rows "$ROWS" --seed 7 --out "$work/customers.parquet" >/dev/null
"$bin" generate --rows "$ROWS" --seed 7 --out "$work/customers.csv" >/dev/null
"$bin" train --data data/telco_customer_churn.csv --algorithm logistic --cv 0 --out "$work/model.json" >/dev/null
"$bin" score --model "$work/model.json" --data "$work/customers.parquet" --out "$work/cli.csv" --show 0 >/dev/null
"$py" - "$work" <<'PY'
import sys, polars as pl
work = sys.argv[1]
frame = pl.read_parquet(f"{work}/customers.parquet")
half = frame.height // 2
frame[:half].write_parquet(f"{work}/reference.parquet")
frame[half:].write_parquet(f"{work}/current.parquet")
PY
"$bin" drift --model "$work/model.json" --reference "$work/reference.parquet" --current "$work/current.parquet" --json >"$work/cli_drift.json" || true

echo "== 3. master and two workers =="
spark_home="$("$py" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mport=$(free_port)
export SPARK_HOME="$spark_home" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR="$work/logs" SPARK_WORKER_DIR="$work/workers"
"$spark_home/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$mport" \
    --webui-port "$(free_port)" >"$work/master.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
    grep -q "I have been elected leader" "$work/master.log" 2>/dev/null && break
    sleep 0.1
done
for i in 1 2; do
    "$spark_home/bin/spark-class" org.apache.spark.deploy.worker.Worker "spark://127.0.0.1:$mport" \
        --cores 1 --memory 1g --webui-port "$(free_port)" --work-dir "$work/workers/$i" >"$work/worker-$i.log" 2>&1 &
    pids+=($!)
done
for _ in $(seq 1 300); do
    [ "$(grep -c "Registering worker" "$work/master.log" 2>/dev/null || true)" -ge 2 ] && break
    sleep 0.1
done
workers=$(grep -c "Registering worker" "$work/master.log" || true)
if ! grep -q "I have been elected leader" "$work/master.log" || [ "$workers" -lt 2 ]; then
    echo "the cluster did not come up in 30 s (master elected? workers: $workers):" >&2
    tail -n 20 "$work/master.log" "$work"/worker-*.log >&2
    exit 1
fi
echo "master spark://127.0.0.1:$mport with $workers workers"

echo "== 4. the job on the cluster, then in local mode =="
cat >"$work/job.py" <<'PY'
import json, sys, time
from pyspark.sql import SparkSession
import retention, retention.spark as rspark

master, work, label = sys.argv[1], sys.argv[2], sys.argv[3]
builder = SparkSession.builder.master(master).appName(f"retention-{label}")
builder = builder.config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
spark = builder.getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
model = retention.ChurnModel.load(f"{work}/model.json")


def timed(read, out):
    times = []
    for _ in range(3):  # the first run includes starting the executors' Python workers
        start = time.perf_counter()
        rspark.score(read(), model).write.mode("overwrite").parquet(out)
        times.append(time.perf_counter() - start)
    return times


times = timed(lambda: spark.read.parquet(f"{work}/customers.parquet"), f"{work}/{label}_scores")
variants = {}
if label == "local":
    # The same rows read from CSV (every column as text, as before Parquet), and from Parquet
    # with every column sent to the Python workers (as before the model's columns were selected).
    variants["csv"] = min(timed(lambda: spark.read.csv(f"{work}/customers.csv", header=True),
                                f"{work}/variant_scores"))
    selected = rspark._model_columns
    rspark._model_columns = lambda df, model, keep=(): df.columns
    variants["all_columns"] = min(timed(lambda: spark.read.parquet(f"{work}/customers.parquet"),
                                        f"{work}/variant_scores"))
    rspark._model_columns = selected
start = time.perf_counter()
report = rspark.drift(spark.read.parquet(f"{work}/reference.parquet"),
                      spark.read.parquet(f"{work}/current.parquet"), model=model)
drifted = time.perf_counter() - start
with open(f"{work}/{label}_drift.json", "w") as f:
    f.write(report.to_json())
executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - (0 if master.startswith("local") else 1)
json.dump({"score_s": min(times), "first_s": times[0], "drift_s": drifted, "executors": executors,
           "variants": variants},
          open(f"{work}/{label}.json", "w"))
spark.stop()
PY
# A job that cannot get executors would wait forever: give each a deadline.
timeout "${JOB_TIMEOUT:-1800}" "$spark_home/bin/spark-submit" --master "spark://127.0.0.1:$mport" \
    --archives "$work/env.tar.gz#env" \
    --conf spark.pyspark.python=./env/bin/python \
    --conf spark.pyspark.driver.python="$driver" \
    --conf spark.executor.memory=1g \
    "$work/job.py" "spark://127.0.0.1:$mport" "$work" cluster >"$work/cluster.log" 2>&1 \
    || { tail -n 40 "$work/cluster.log" >&2; exit 1; }
PYSPARK_PYTHON="$driver" timeout "${JOB_TIMEOUT:-1800}" "$spark_home/bin/spark-submit" --master "local[2]" \
    --conf spark.pyspark.python="$driver" \
    --conf spark.pyspark.driver.python="$driver" \
    "$work/job.py" "local[2]" "$work" local >"$work/local.log" 2>&1 \
    || { tail -n 40 "$work/local.log" >&2; exit 1; }

echo "== 5. compare with the CLI =="
"$py" - "$work" "$ROWS" <<'PY'
import json, sys
import polars as pl
work, rows = sys.argv[1], int(sys.argv[2])
cli = pl.read_csv(f"{work}/cli.csv", infer_schema_length=0)
id_col = cli.columns[0]
cli = cli.with_columns(pl.col("churn_probability").cast(pl.Float64),
                       pl.col("churn_prediction").cast(pl.Int64)).sort(id_col)
failed = False
for label in ("cluster", "local"):
    got = pl.read_parquet(f"{work}/{label}_scores/*.parquet").with_columns(
        pl.col("churn_prediction").cast(pl.Int64)).sort(id_col)
    same_ids = got[id_col].to_list() == cli[id_col].to_list()
    worst = (got["churn_probability"] - cli["churn_probability"]).abs().max() if same_ids else None
    same = same_ids and worst is not None and worst <= 1e-12 \
        and got["churn_prediction"].to_list() == cli["churn_prediction"].to_list() \
        and got["risk_tier"].to_list() == cli["risk_tier"].to_list()
    a = json.load(open(f"{work}/{label}_drift.json"))
    b = json.load(open(f"{work}/cli_drift.json"))
    a.pop("generated_at", None), b.pop("generated_at", None)
    same_drift = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    t = json.load(open(f"{work}/{label}.json"))
    print(f"{label:8s} rows {got.height} (of {rows}), executors {t['executors']}: scores equal to `retention score`: {same} "
          f"(largest difference {worst}); drift equal to `retention drift`: {same_drift}; "
          f"score best of 3 {t['score_s']:.2f} s ({got.height / t['score_s']:,.0f} rows/s; first {t['first_s']:.2f} s), "
          f"drift {t['drift_s']:.2f} s")
    for name, seconds in t["variants"].items():
        what = {"csv": "the same rows from CSV", "all_columns": "Parquet, every column sent to Python"}[name]
        print(f"{'':8s} {what}: best of 3 {seconds:.2f} s")
    failed |= not (same and same_drift and got.height == rows)
sys.exit(1 if failed else 0)
PY
