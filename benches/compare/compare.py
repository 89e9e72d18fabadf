"""RetentionAI beside the Python stack on the same generated customers, in one run.

Usage: compare.py RETENTION_BIN WORK_DIR LATENCY_JSON CRITERION_DIR

Called by benches/compare/run.sh, which builds RetentionAI, generates the tables into WORK_DIR
(train.csv: ROWS customers, seed 1; current.csv: ROWS customers, seed 2, with the drift demo's
shifts; boost.csv: the first BOOST_ROWS rows of train.csv; cv.csv: the real Telco table;
big.csv: 10x ROWS when SCALE=1), runs `cargo bench --bench latency` and `--bench explain`, then calls this script.

Every measurement is timed here, on the same files, one after the other (nothing else runs):
- whole processes (`/usr/bin/time`: wall seconds and peak RSS) for training, batch scoring and
  drift, both sides reading the CSV themselves;
- in-process for single-row latency (RetentionAI: RowScorer::score_record, from the latency
  bench; scikit-learn: Pipeline.predict_proba on a one-row DataFrame) and explanations of 1,000
  rows (RetentionAI: criterion's estimate; shap: best of 3).
The floor for batch scoring is polars reading the same CSV (every column) and writing the same
four output columns, with nothing in between.
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

    # 1. Training, read to fitted (whole process), and 5-fold CV ROC-AUC.
    print("training…", file=sys.stderr)
    lr_time, lr_rss, _ = timed([bin_, "train", "--data", f("train.csv"), "--algorithm", "logistic",
                                "--cv", "0", "--calibration", "none", "--out", f("lr.json")])
    sk_time, sk_rss, _ = timed(py("train", "logistic", f("train.csv"), f("sk_lr.pkl")))
    row(f"train logistic, {rows:,} rows (s)", lr_time, sk_time, "scikit-learn LogisticRegression")
    gb_time, gb_rss, _ = timed([bin_, "train", "--data", f("boost.csv"), "--algorithm", "boosting",
                                "--cv", "0", "--calibration", "none", "--out", f("gb.json")])
    for family, name in (("lightgbm", "LightGBM"), ("histgb", "HistGradientBoosting")):
        t, _, _ = timed(py("train", family, f("boost.csv"), f(f"sk_{family}.pkl")))
        row(f"train boosting, {boost_rows:,} rows (s)", gb_time, t, name)
    cv = {}
    for algorithm in ("logistic", "boosting"):
        _, _, out = timed([bin_, "train", "--data", f("cv.csv"), "--algorithm", algorithm, "--cv", "5",
                           "--json", "--out", f(f"cv_{algorithm}.json")])
        auc = json.loads(out)["cv"]["roc_auc"]
        cv[algorithm] = (auc["mean"], auc["std"])
    for family, name, ours in (("logistic", "scikit-learn LogisticRegression", "logistic"),
                               ("lightgbm", "LightGBM", "boosting"),
                               ("histgb", "HistGradientBoosting", "boosting")):
        _, _, out = timed(py("cv", family, f("cv.csv")))
        mean, std = json.loads(out)
        row(f"CV ROC-AUC {ours}, Telco {cv_rows:,} rows (5-fold)", cv[ours], (mean, std), name, "auc")

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

    # 5. Drift, ROWS vs ROWS, whole processes.
    print("drift…", file=sys.stderr)
    ours = best([bin_, "drift", "--reference", f("train.csv"), "--current", f("current.csv"),
                 "--json"], repeats=1)
    theirs = best(py("drift", f("train.csv"), f("current.csv")), repeats=1)
    row(f"drift {rows:,} vs {rows:,} rows (s)", ours[0], theirs[0], "pandas + numpy + scipy")
    row(f"drift {rows:,} vs {rows:,} rows: peak RSS (MB)", ours[1], theirs[1],
        "pandas + numpy + scipy", "memory")

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
        else:
            o, a = f"{ours:.4g}", f"{anchor:.4g}"
            ratio = f"{anchor / ours:.1f}× faster" if ours <= anchor else f"{ours / anchor:.1f}× slower"
        if note:
            ratio += f" ({note})"
        print(f"| {task} | {o} | {a} | {name} | {ratio} |")


if __name__ == "__main__":
    main()
