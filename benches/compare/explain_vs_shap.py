"""Times shap on the Telco rows RetentionAI's `explain` benchmark uses and prints both side by side.

RetentionAI's figures are read from criterion's estimates of the run that precedes this script
(target/criterion/explain/<algorithm>/<rows>/new/estimates.json). shap gets models of the same
families fitted on the same preprocessing: LinearExplainer on LogisticRegression (C=1),
TreeExplainer on a DecisionTreeClassifier (depth 6, leaves >= 20) and on LightGBM (its defaults).
The ratio is shap's time over RetentionAI's.

Usage: python explain_vs_shap.py data/telco_customer_churn.csv target/criterion
"""

import json
import os
import platform
import sys
import time

import numpy as np
import shap
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from telco_prep import load, preprocessor

data_path, criterion_dir = sys.argv[1], sys.argv[2]
df, y = load(data_path)
prep = preprocessor(df, dense=True)
X = prep.fit_transform(df)


def rows(n):
    reps = -(-n // len(X))
    return np.tile(X, (reps, 1))[:n]


def best_of(f, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


explainers = {}
lr = LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
explainers["logistic"] = ("LinearExplainer", shap.LinearExplainer(lr, X))
tree = DecisionTreeClassifier(max_depth=6, min_samples_leaf=20, random_state=42).fit(X, y)
explainers["tree"] = ("TreeExplainer", shap.TreeExplainer(tree))
try:
    import lightgbm

    gbm = lightgbm.LGBMClassifier(verbose=-1).fit(X, y)
    explainers["boosting"] = ("TreeExplainer (LightGBM)", shap.TreeExplainer(gbm))
except ImportError:
    pass


def retention_seconds(algorithm, n):
    path = os.path.join(criterion_dir, "explain", algorithm, str(n), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["mean"]["point_estimate"] / 1e9
    except OSError:
        return None


print(f"shap {shap.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
      f"{os.cpu_count()} cores")
print(f"{'family':10s} {'rows':>8s} {'RetentionAI s':>14s} {'shap s':>10s} {'shap/RetentionAI':>17s}  shap explainer")
for algorithm, (name, explainer) in explainers.items():
    for n in (1_000, 100_000):
        data = rows(n)
        repeats = 3 if n <= 1_000 else 1
        seconds = best_of(lambda: explainer.shap_values(data), repeats)
        ours = retention_seconds(algorithm, n)
        ratio = f"{seconds / ours:.1f}x" if ours else "n/a"
        ours_text = f"{ours:.4f}" if ours else "n/a"
        print(f"{algorithm:10s} {n:8d} {ours_text:>14s} {seconds:10.4f} {ratio:>17s}  {name}")
