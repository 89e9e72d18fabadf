"""RetentionAI beside the Python stack on the same generated customers, in one run.

Usage: compare.py RETENTION_BIN WORK_DIR LATENCY_JSON CRITERION_DIR

Called by benches/compare/run.sh, which builds RetentionAI, generates the tables into WORK_DIR
(train.csv: ROWS customers, seed 1; current.csv: ROWS customers, seed 2, with the drift demo's
shifts; boost.csv: the first BOOST_ROWS rows of train.csv; cv.csv: the real Telco table;
big.csv: 10x ROWS when SCALE=1), runs `cargo bench --bench latency` and `--bench explain`, then calls this script.

Every measurement is timed here, on the same files, one after the other (nothing else runs):
- whole processes (`/usr/bin/time`: wall seconds and peak RSS) for training, batch scoring and
  drift, both sides reading the CSV themselves (LightGBM and HistGradientBoosting: pandas read,
  category cast and fit in one process); training's peak RSS beside its encoded training matrix
  (training rows × model inputs × 8 bytes), and training on big.csv beside ROWS;
- in-process for single-row latency (RetentionAI: RowScorer::score_record, from the latency
  bench; scikit-learn: Pipeline.predict_proba on a one-row DataFrame) and explanations of 1,000
  rows (RetentionAI: criterion's estimate; shap: best of 3).
The floor for batch scoring is polars reading the same CSV (every column) and writing the same
four output columns, with nothing in between; drift's floor is polars reading both files.
CV ROC-AUC is measured on the real Telco table and on data/usage_churn.csv.
"""

import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges"]
ID, TARGET = "customerID", "Churn"


def timed(cmd, env=None):
    """Runs a command; returns (wall seconds, peak RSS MB, stdout)."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M"] + cmd,
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    wall, rss = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss) / 1024, out.stdout


def best(cmd, repeats=3):
    runs = [timed(cmd) for _ in range(repeats)]
    return min(runs, key=lambda r: r[0])


def py(script, *args):
    return [sys.executable, os.path.join(HERE, "anchors.py"), script, *args]


def main():
    bin_, work, latency_json, criterion_dir = sys.argv[1:5]
    f = lambda name: os.path.join(work, name)  # noqa: E731
    rows = sum(1 for _ in open(f("train.csv"))) - 1
    boost_rows = sum(1 for _ in open(f("boost.csv"))) - 1
    cv_rows = sum(1 for _ in open(f("cv.csv"))) - 1  # the real Telco table
    table = []

    def row(task, ours, anchor, name, ratio_of="time", note=""):
        table.append((task, ours, anchor, name, ratio_of, note))

    # 1. Training, read to fitted (whole process), its memory beside the encoded training matrix,
    # 10x the rows, and 5-fold CV ROC-AUC.
    print("training…", file=sys.stderr)

    def train(csv, algorithm, out):
        t, rss, _ = timed([bin_, "train", "--data", f(csv), "--algorithm", algorithm, "--cv", "0",
                           "--calibration", "none", "--out", f(out)])
        with open(f(out)) as fh:
            model = json.load(fh)["model"]
        matrix_mb = model["provenance"]["training_rows"] * len(model["pipeline"]["outputs"]) * 8 / 2**20
        return t, rss, matrix_mb, model["provenance"]["training_rows"], len(model["pipeline"]["outputs"])

    def matrix_row(algorithm, n, rss, matrix_mb, train_rows, inputs):
        row(f"train {algorithm}, {n:,} rows: peak RSS vs the encoded training matrix (MB)", rss,
            matrix_mb, f"{train_rows:,} rows × {inputs} inputs × 8 B", "memory")

    lr_time, lr_rss, *lr_matrix = train("train.csv", "logistic", "lr.json")
    sk_time, sk_rss, _ = timed(py("train", "logistic", f("train.csv"), f("sk_lr.pkl")))
    row(f"train logistic, {rows:,} rows (s)", lr_time, sk_time, "scikit-learn LogisticRegression")
    row(f"train logistic, {rows:,} rows: peak RSS (MB)", lr_rss, sk_rss,
        "scikit-learn LogisticRegression", "memory")
    matrix_row("logistic", rows, lr_rss, *lr_matrix)
    gb_time, gb_rss, *gb_matrix = train("boost.csv", "boosting", "gb.json")
    for family, name in (("lightgbm", "LightGBM (pandas read, category cast, fit)"),
                         ("histgb", "HistGradientBoosting (pandas read, category cast, fit)")):
        t, m, _ = timed(py("train", family, f("boost.csv"), f(f"sk_{family}.pkl")))
        row(f"train boosting, {boost_rows:,} rows (s)", gb_time, t, name)
        row(f"train boosting, {boost_rows:,} rows: peak RSS (MB)", gb_rss, m, name, "memory")
    matrix_row("boosting", boost_rows, gb_rss, *gb_matrix)
    if os.path.exists(f("big.csv")):
        big_rows = sum(1 for _ in open(f("big.csv"))) - 1
        for algorithm, n, (t1, *_rest) in (("logistic", rows, (lr_time,)),
                                           ("boosting", boost_rows, (gb_time,))):
            t, rss, *matrix = train("big.csv", algorithm, f"big_{algorithm}.json")
            row(f"train {algorithm}, {big_rows:,} rows (s)", t, t1,
                f"RetentionAI at {n:,} rows", "scale", f"{big_rows / n:.0f}× the rows")
            matrix_row(algorithm, big_rows, rss, *matrix)
    cv = {}
    usage = os.path.join(HERE, "..", "..", "data", "usage_churn.csv")
    for table_name, csv, extra in (("Telco", f("cv.csv"), []),
                                   ("usage_churn", usage, ["--target", "churned", "--id", "account_id"])):
        for algorithm in ("logistic", "boosting"):
            _, _, out = timed([bin_, "train", "--data", csv, "--algorithm", algorithm, "--cv", "5",
                               "--json", "--out", f(f"cv_{algorithm}.json")] + extra)
            auc = json.loads(out)["cv"]["roc_auc"]
            cv[table_name, algorithm] = (auc["mean"], auc["std"])
    usage_rows = sum(1 for _ in open(usage)) - 1
    for table_name, csv, n, args in (("Telco", f("cv.csv"), cv_rows, []),
                                     ("usage_churn", usage, usage_rows, ["churned", "account_id"])):
        for family, name, ours in (("logistic", "scikit-learn LogisticRegression", "logistic"),
                                   ("lightgbm", "LightGBM", "boosting"),
                                   ("histgb", "HistGradientBoosting", "boosting")):
            _, _, out = timed(py("cv", family, csv, *args))
            mean, std = json.loads(out)
            row(f"CV ROC-AUC {ours}, {table_name} {n:,} rows (5-fold)", cv[table_name, ours],
                (mean, std), name, "auc")

    # 2. Batch scoring CSV→CSV, whole processes, warm page cache, best of 3.
    print("batch scoring…", file=sys.stderr)
    ours = best([bin_, "score", "--model", f("lr.json"), "--data", f("train.csv"), "--out",
                 f("scored.csv"), "--show", "0"])
    sk = best(py("score", f("sk_lr.pkl"), f("train.csv"), f("sk_scored.csv")))
    floor = best(py("floor", f("train.csv"), f("floor.csv")))
    row(f"score {rows:,} rows CSV→CSV (s)", ours[0], sk[0], "scikit-learn pipeline")
    row(f"score {rows:,} rows CSV→CSV (s)", ours[0], floor[0], "floor: polars read + write")
    row(f"score {rows:,} rows: rows/s", rows / ours[0], rows / sk[0], "scikit-learn pipeline", "rate")
    row(f"score {rows:,} rows: peak RSS (MB)", ours[1], sk[1], "scikit-learn pipeline", "memory")
    row(f"score {rows:,} rows: peak RSS (MB)", ours[1], floor[1], "floor: polars read + write",
        "memory")
    if os.path.exists(f("big.csv")):
        big_rows = sum(1 for _ in open(f("big.csv"))) - 1
        big = best([bin_, "score", "--model", f("lr.json"), "--data", f("big.csv"), "--out",
                    f("big_scored.csv"), "--show", "0"], repeats=1)
        os.remove(f("big_scored.csv"))
        row(f"score {big_rows:,} rows: peak RSS (MB)", big[1], ours[1],
            f"RetentionAI at {rows:,} rows", "memory", f"{big_rows / big[0]:,.0f} rows/s")

    # 3. Single-row latency in-process.
    print("latency…", file=sys.stderr)
    with open(latency_json) as fh:
        lat = {r["model"]: r for r in json.load(fh)}
    _, _, out = timed(py("latency", f("sk_lr.pkl"), f("train.csv")))
    sk_lat = json.loads(out)
    row("single row p50 (µs)", lat["logistic"]["p50_us"], sk_lat["p50_us"], "scikit-learn pipeline")
    row("single row p99 (µs)", lat["logistic"]["p99_us"], sk_lat["p99_us"], "scikit-learn pipeline")

    # 4. Explanations of 1,000 rows (in-process).
    print("explanations…", file=sys.stderr)
    # criterion's explain bench explains the bundled Telco rows; shap gets the same rows.
    telco = os.path.join(HERE, "..", "..", "data", "telco_customer_churn.csv")
    _, _, out = timed(py("explain", telco))
    shap_times = json.loads(out)
    for algorithm, name in (("logistic", "shap LinearExplainer"), ("boosting", "shap TreeExplainer (LightGBM)")):
        path = os.path.join(criterion_dir, "explain", algorithm, "1000", "new", "estimates.json")
        with open(path) as fh:
            ours_s = json.load(fh)["mean"]["point_estimate"] / 1e9
        row(f"explain 1,000 rows, {algorithm} (s)", ours_s, shap_times[algorithm], name)

    # 5. Drift, ROWS vs ROWS, whole processes, beside the floor of reading both files.
    print("drift…", file=sys.stderr)
    drift = [bin_, "drift", "--reference", f("train.csv"), "--current", f("current.csv"), "--json"]
    ours = best(drift, repeats=1)
    with_model = best(drift + ["--model", f("gb.json")], repeats=1)
    theirs = best(py("drift", f("train.csv"), f("current.csv")), repeats=1)
    floor = best(py("read", f("train.csv"), f("current.csv")), repeats=1)
    task = f"drift {rows:,} vs {rows:,} rows"
    row(f"{task} (s)", ours[0], theirs[0], "pandas + numpy + scipy")
    row(f"{task} (s)", ours[0], floor[0], "floor: polars reads both files", "floor")
    row(f"{task} with `--model` (boosting) (s)", with_model[0], floor[0],
        "floor: polars reads both files", "floor")
    row(f"{task}: peak RSS (MB)", ours[1], theirs[1], "pandas + numpy + scipy", "memory")
    row(f"{task} with `--model`: peak RSS (MB)", with_model[1], theirs[1], "pandas + numpy + scipy",
        "memory")

    import lightgbm
    import polars
    import sklearn

    print()
    print(f"RetentionAI vs scikit-learn {sklearn.__version__}, LightGBM {lightgbm.__version__}, "
          f"shap {__import__('shap').__version__}, polars {polars.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}; {os.cpu_count()} cores, {platform.machine()}, "
          f"{platform.system()} {platform.release()}")
    print()
    print(f"| task | RetentionAI | anchor | anchor tool | RetentionAI vs anchor |")
    print(f"|---|---:|---:|---|---:|")
    for task, ours, anchor, name, kind, note in table:
        if kind == "auc":
            o, a = f"{ours[0]:.4f} ± {ours[1]:.4f}", f"{anchor[0]:.4f} ± {anchor[1]:.4f}"
            ratio = f"{ours[0] - anchor[0]:+.4f} AUC"
        elif kind == "rate":
            o, a = f"{ours:,.0f}", f"{anchor:,.0f}"
            ratio = f"{ours / anchor:.1f}× the rows/s"
        elif kind == "memory":
            o, a = f"{ours:,.0f}", f"{anchor:,.0f}"
            ratio = f"{ours / anchor:.2f}× the memory"
        elif kind in ("floor", "scale"):
            o, a = f"{ours:.4g}", f"{anchor:.4g}"
            ratio = f"{ours / anchor:.2f}× the time"
        else:
            o, a = f"{ours:.4g}", f"{anchor:.4g}"
            ratio = f"{anchor / ours:.2f}× faster" if ours <= anchor else f"{ours / anchor:.2f}× slower"
        if note:
            ratio += f" ({note})"
        print(f"| {task} | {o} | {a} | {name} | {ratio} |")


if __name__ == "__main__":
    main()
