"""The Python anchors of benches/compare/compare.py, one task per process so that wall time and
peak RSS are those of the whole job, the way a user would run it.

Usage: anchors.py TASK ARGS…
  train {logistic|lightgbm|histgb} CSV MODEL_PKL  read the CSV, fit, pickle the fitted pipeline
  cv {logistic|lightgbm|histgb} CSV [TARGET ID]  5-fold stratified CV ROC-AUC: prints [mean, std]
                                                 (another table than Telco: its target and id
                                                 columns; its numbers are the columns pandas reads
                                                 as numbers)
  score MODEL_PKL CSV OUT_CSV                    read, predict_proba, write id/probability/0-1/tier
  floor CSV OUT_CSV                              polars: read every column, write four, nothing else
  read CSV…                                      polars: read every file as text, nothing else
  latency MODEL_PKL CSV                          one-row DataFrames through predict_proba: p50/p99 µs
  explain CSV                                    shap on 1,000 rows: {"logistic": s, "boosting": s}
  drift REFERENCE_CSV CURRENT_CSV                the drift statistics of drift_vs_scipy.py per column

Preprocessing (logistic): median imputation + standardisation of the numeric columns, one-hot of
the others (telco_prep.py's choices). Boosting: the categorical columns as pandas categories, which
LightGBM and HistGradientBoosting split natively.
"""

import json
import pickle
import sys
import time

import numpy as np
import pandas as pd

NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges"]
ID, TARGET = "customerID", "Churn"


def load(path, target=TARGET, id_=ID):
    """(features, 0/1 target or None, ids) as a scikit-learn user would read them."""
    global NUMERIC
    df = pd.read_csv(path)
    if id_ != ID:  # not Telco: the numbers are the columns pandas read as numbers
        NUMERIC = [c for c in df.columns
                   if c not in (target, id_) and pd.api.types.is_numeric_dtype(df[c])]
    for c in NUMERIC:
        if not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = pd.to_numeric(df[c], errors="coerce")
    y = (df.pop(target) == "Yes").astype(int).to_numpy() if target in df else None
    ids = df.pop(id_)
    for c in df.columns:
        if c not in NUMERIC:
            df[c] = df[c].astype(str)
    return df, y, ids


def categorical(df):
    return [c for c in df.columns if c not in NUMERIC]


def logistic(df):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical(df)),
    ])
    return make_pipeline(prep, LogisticRegression(C=1.0, max_iter=1000))


def as_categories(df):
    df = df.copy()
    for c in categorical(df):
        df[c] = df[c].astype("category")
    return df


def booster(family):
    if family == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(verbose=-1)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=42)


def fit(family, df, y):
    if family == "logistic":
        return logistic(df).fit(df, y)
    return booster(family).fit(as_categories(df), y)


def train(family, csv, out):
    df, y, _ = load(csv)
    model = fit(family, df, y)
    with open(out, "wb") as fh:
        pickle.dump((family, model), fh)


def cv(family, csv, target=TARGET, id_=ID):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    df, y, _ = load(csv, target, id_)
    aucs = []
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=42).split(df, y):
        model = fit(family, df.iloc[tr], y[tr])
        x = df.iloc[te] if family == "logistic" else as_categories(df).iloc[te]
        aucs.append(roc_auc_score(y[te], model.predict_proba(x)[:, 1]))
    print(json.dumps([float(np.mean(aucs)), float(np.std(aucs))]))


def score(model_pkl, csv, out):
    with open(model_pkl, "rb") as fh:
        family, model = pickle.load(fh)
    df, _, ids = load(csv)
    p = model.predict_proba(df if family == "logistic" else as_categories(df))[:, 1]
    tier = np.where(p >= 0.7, "High", np.where(p >= 0.3, "Medium", "Low"))
    pd.DataFrame({ID: ids, "churn_probability": p, "churn_prediction": (p >= 0.5).astype(int),
                  "risk_tier": tier}).to_csv(out, index=False)


def floor(csv, out):
    import polars as pl

    df = pl.read_csv(csv, infer_schema_length=10000)
    df.select(
        pl.col(ID),
        pl.col("MonthlyCharges").cast(pl.Float64).alias("churn_probability"),
        (pl.col("tenure") > 12).cast(pl.Int32).alias("churn_prediction"),
        pl.col("Contract").alias("risk_tier"),
    ).write_csv(out)


def latency(model_pkl, csv):
    with open(model_pkl, "rb") as fh:
        _, model = pickle.load(fh)
    df, _, _ = load(csv)
    rows = [df.iloc[[i]] for i in range(2000)]
    for r in rows[:200]:
        model.predict_proba(r)
    micros = []
    for r in rows:
        t = time.perf_counter()
        model.predict_proba(r)
        micros.append((time.perf_counter() - t) * 1e6)
    print(json.dumps({"p50_us": float(np.percentile(micros, 50)),
                      "p99_us": float(np.percentile(micros, 99))}))


def explain(csv):
    import lightgbm
    import shap
    from sklearn.linear_model import LogisticRegression

    df, y, _ = load(csv)
    prep = logistic(df).steps[0][1]
    prep.set_params(cat__sparse_output=False)
    x = prep.fit_transform(df)
    data = x[:1000]

    def best_of(f):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times)

    lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    linear = shap.LinearExplainer(lr, x)
    gbm = lightgbm.LGBMClassifier(verbose=-1).fit(x, y)
    tree = shap.TreeExplainer(gbm)
    print(json.dumps({"logistic": best_of(lambda: linear.shap_values(data)),
                      "boosting": best_of(lambda: tree.shap_values(data))}))


def read(*csvs):
    import polars as pl

    for path in csvs:
        pl.read_csv(path, infer_schema=False)


def drift(reference, current):
    from drift_vs_scipy import all_stats, typed

    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
    report = all_stats(typed(read(reference)), typed(read(current)))
    print(json.dumps(report)[:200])


if __name__ == "__main__":
    task, args = sys.argv[1], sys.argv[2:]
    {"train": train, "cv": cv, "score": score, "floor": floor, "read": read, "latency": latency,
     "explain": explain, "drift": drift}[task](*args)
