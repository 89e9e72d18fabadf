"""The notebook steps with retention (benches/compare/notebook_steps.sh): the same steps as
notebook_stack.py, with the model's defaults (gradient boosting, Platt calibration).

Usage: python notebook_retention.py CUSTOMERS.csv CURRENT.csv OUT_DIR
"""

import sys

from notebook_timing import report, step

# --- the notebook ---
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl
import shap

import retention
import retention.plot as rplot

out = Path(sys.argv[3])
with step("read"):
    customers = retention.read_table(sys.argv[1])
    current = retention.read_table(sys.argv[2])
    test = customers.gather_every(5)  # every fifth customer held out
    train = customers.join(test, on="customerID", how="anti")
with step("train"):
    model = retention.train(train, target="Churn", id="customerID", algorithm="boosting", cv=5,
                            progress=None)
with step("holdout"):
    holdout = model.evaluate(test)
    rplot.reliability(model, test)
    plt.savefig(out / "reliability.png")
    plt.close("all")
with step("explain"):
    sample = test.sample(1000, seed=1)
    contributions = model.contributions(sample)
    shap.plots.beeswarm(model.shap_explanation(sample), show=False)
    plt.savefig(out / "beeswarm.png", bbox_inches="tight")
    plt.close("all")
with step("drift"):
    retention.drift(train, current, model=model).save_html(out / "drift.html")
# --- end ---

report(cv_roc_auc=model.metrics["cv"]["summary"]["roc_auc"]["mean"],
       holdout={k: holdout[k] for k in ("roc_auc", "pr_auc", "brier")},
       contributions=list(contributions.shape))
