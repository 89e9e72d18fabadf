"""Drift statistics in numpy/scipy/pandas on the same rows as `cargo bench --bench drift`.

Usage: drift_vs_scipy.py TELCO_CSV CRITERION_DIR RETENTION_BIN WORK_DIR

1. Draws the reference and current tables exactly as benches/drift.rs does (SplitMix64 resampling
   of the Telco rows, seeds 1 and 2), at 10k, 100k and 1M rows.
2. Times the same statistics per column with the usual Python tools, on already-typed arrays
   (numeric columns as float64, the others as pandas object columns): PSI on 10 reference-quantile
   bins, scipy.stats.ks_2samp(method="asymp"), scipy.stats.wasserstein_distance / np.std, missing
   rates (numeric); value_counts, PSI, scipy.stats.chi2_contingency, jensenshannon (categorical).
   Best of 3 runs.
3. Reads RetentionAI's time for the same rows from criterion's estimates (median).
4. Checks the numbers agree: writes the 1M-row tables as CSV, runs `retention drift --json` on them
   and compares every statistic with the Python values.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges"]
SKIP = ["customerID", "Churn"]
BINS = 10
FLOOR = 1e-4
MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix_indices(n, seed, modulo):
    """SplitMix64 as in retention_core::training::SplitMix64, vectorised."""
    with np.errstate(over="ignore"):
        gamma = np.uint64(0x9E3779B97F4A7C15)
        state = np.uint64(seed) + gamma * np.arange(1, n + 1, dtype=np.uint64)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(modulo)).astype(np.int64)


def psi(r, c):
    r = np.maximum(r / r.sum(), FLOOR)
    c = np.maximum(c / c.sum(), FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_stats(ref, cur):
    r_all, c_all = ref, cur
    r, c = r_all[~np.isnan(r_all)], c_all[~np.isnan(c_all)]
    edges = np.unique(np.quantile(r, np.arange(1, BINS) / BINS))
    rc = np.bincount(np.searchsorted(edges, r, side="left"), minlength=len(edges) + 1)
    cc = np.bincount(np.searchsorted(edges, c, side="left"), minlength=len(edges) + 1)
    r_missing, c_missing = len(r_all) - len(r), len(c_all) - len(c)
    if r_missing + c_missing:
        rc, cc = np.append(rc, r_missing), np.append(cc, c_missing)
    ks = stats.ks_2samp(r, c, method="asymp")
    w = stats.wasserstein_distance(r, c) / np.std(r)
    p = ks.pvalue
    if r_missing + c_missing:
        blank = stats.chi2_contingency([[len(r), r_missing], [len(c), c_missing]], correction=False)
        p = min(p, blank.pvalue)
    return {
        "psi": psi(rc, cc),
        "ks_statistic": float(ks.statistic),
        "p_value": float(p),
        "wasserstein": float(w),
        "missing_reference": r_missing / len(r_all),
        "missing_current": c_missing / len(c_all),
    }


def categorical_stats(ref, cur):
    vr = ref.value_counts(dropna=False)
    vc = cur.value_counts(dropna=False)
    levels = vr.index.union(vc.index)
    rc = vr.reindex(levels, fill_value=0).to_numpy()
    cc = vc.reindex(levels, fill_value=0).to_numpy()
    keep = (rc + cc) > 0
    chi = stats.chi2_contingency(np.vstack([rc[keep], cc[keep]]), correction=False)
    return {
        "psi": psi(rc, cc),
        "chi_square": float(chi.statistic),
        "p_value": float(chi.pvalue),
        "js_distance": float(jensenshannon(rc, cc, base=2)),
        "missing_reference": float(ref.isna().mean()),
        "missing_current": float(cur.isna().mean()),
    }


def typed(frame):
    out = {}
    for col in frame.columns:
        if col in SKIP:
            continue
        if col in NUMERIC:
            out[col] = pd.to_numeric(frame[col].str.strip().replace("", np.nan)).to_numpy(float)
        else:
            out[col] = frame[col].replace("", None)
    return out


def all_stats(ref, cur):
    return {
        col: (numeric_stats if col in NUMERIC else categorical_stats)(ref[col], cur[col])
        for col in ref
    }


def criterion_seconds(criterion_dir, rows):
    path = os.path.join(criterion_dir, "drift", "all_columns", str(rows), "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] / 1e9


def main():
    telco_csv, criterion_dir, retention_bin, work = sys.argv[1:5]
    telco = pd.read_csv(telco_csv, dtype=str, keep_default_na=False)
    print(f"{'rows per side':>14} {'numpy/scipy s':>14} {'RetentionAI s':>14} {'speed-up':>9}")
    for rows in [10_000, 100_000, 1_000_000]:
        ref_text = telco.iloc[splitmix_indices(rows, 1, len(telco))].reset_index(drop=True)
        cur_text = telco.iloc[splitmix_indices(rows, 2, len(telco))].reset_index(drop=True)
        ref, cur = typed(ref_text), typed(cur_text)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            python = all_stats(ref, cur)
            best = min(best, time.perf_counter() - start)
        rust = criterion_seconds(criterion_dir, rows)
        print(f"{rows:>14,} {best:>14.3f} {rust:>14.3f} {best / rust:>8.1f}x")

    # Same numbers? Run the CLI on the 1M-row tables and compare every statistic.
    ref_path = os.path.join(work, "drift_reference.csv")
    cur_path = os.path.join(work, "drift_current.csv")
    ref_text.to_csv(ref_path, index=False)
    cur_text.to_csv(cur_path, index=False)
    out = subprocess.run(
        [retention_bin, "drift", "--reference", ref_path, "--current", cur_path, "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    report = {f["column"]: f for f in json.loads(out.stdout)["features"]}
    worst = {}
    for col, values in python.items():
        for key, value in values.items():
            theirs = report[col][key]
            scale = max(abs(value), 1e-12) if key != "p_value" else 1.0
            worst[key] = max(worst.get(key, 0.0), abs(theirs - value) / scale)
    print("\nlargest difference RetentionAI vs Python on the 1M-row tables (relative; p-values absolute):")
    for key, diff in sorted(worst.items()):
        print(f"  {key:<18} {diff:.2e}")
    bad = {k: d for k, d in worst.items() if d > 1e-6}
    if bad:
        print(f"MISMATCH: {bad}")
        sys.exit(1)


if __name__ == "__main__":
    main()
