"""The notebook steps with scikit-learn + shap + Evidently (benches/compare/notebook_steps.sh).

Steps: read the customer table and this week's customers; hold out every fifth customer; gradient boosting
(scikit-learn's HistGradientBoostingClassifier on one-hot categories) with a 5-fold
cross-validated ROC-AUC and a final fit; holdout ROC-AUC, PR-AUC, Brier score and a reliability
chart; the contribution matrix of 1,000 holdout customers by source column (shap's
TreeExplainer, one-hot columns summed back) and shap's beeswarm; a drift report of this week
against the training rows, predictions included (Evidently's DataDriftPreset), as HTML.

Usage: python notebook_stack.py CUSTOMERS.csv CURRENT.csv OUT_DIR
"""

import sys

from notebook_timing import report, step

# --- the notebook ---
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from evidently import Report
from evidently.presets import DataDriftPreset
from sklearn.calibration import CalibrationDisplay
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

out = Path(sys.argv[3])
with step("read"):
    customers = pd.read_csv(sys.argv[1])
    current = pd.read_csv(sys.argv[2])
    for frame in (customers, current):
        frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"], errors="coerce")
    y = (customers.pop("Churn") == "Yes").astype(int)
    current = current.drop(columns="Churn")
    ids = customers.pop("customerID")
    current_ids = current.pop("customerID")
    numeric = ["tenure", "MonthlyCharges", "TotalCharges"]
    categorical = [c for c in customers.columns if c not in numeric]
    X_test, y_test = customers.iloc[::5], y.iloc[::5]  # every fifth customer held out
    X_train, y_train = customers.drop(X_test.index), y.drop(X_test.index)
with step("train"):
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)],
        remainder="passthrough", verbose_feature_names_out=False,
    )
    model = make_pipeline(encode, HistGradientBoostingClassifier(random_state=42))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    cv_auc = cross_val_score(model, X_train, y_train, cv=folds, scoring="roc_auc").mean()
    model.fit(X_train, y_train)
with step("holdout"):
    p = model.predict_proba(X_test)[:, 1]
    holdout = {"roc_auc": roc_auc_score(y_test, p), "pr_auc": average_precision_score(y_test, p),
               "brier": brier_score_loss(y_test, p)}
    CalibrationDisplay.from_predictions(y_test, p, n_bins=10)
    plt.savefig(out / "reliability.png")
    plt.close("all")
with step("explain"):
    sample = X_test.sample(1000, random_state=1)
    encoded = model[0].transform(sample)
    explainer = shap.TreeExplainer(model[-1])
    values = explainer.shap_values(encoded)
    base = np.ravel(explainer.expected_value)[0]
    names = model[0].get_feature_names_out()
    source = [next(c for c in categorical if n.startswith(c + "_")) if n not in numeric else n
              for n in names]
    by_column = pd.DataFrame(values, columns=names).T.groupby(source, sort=False).sum().T
    contributions = by_column.assign(expected_value=base)
    explanation = shap.Explanation(by_column.to_numpy(), base_values=base,
                                   data=sample[by_column.columns].to_numpy(),
                                   feature_names=list(by_column.columns))
    shap.plots.beeswarm(explanation, show=False)
    plt.savefig(out / "beeswarm.png", bbox_inches="tight")
    plt.close("all")
with step("drift"):
    reference = X_train.assign(prediction=model.predict_proba(X_train)[:, 1])
    this_week = current.assign(prediction=model.predict_proba(current)[:, 1])
    Report([DataDriftPreset()]).run(this_week, reference).save_html(str(out / "drift.html"))
# --- end ---

report(cv_roc_auc=cv_auc, holdout=holdout, contributions=list(contributions.shape),
       adds_up=bool(np.allclose(contributions.sum(axis=1), model.decision_function(sample), atol=1e-6)))
