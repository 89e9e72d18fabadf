# %% [markdown]
# # Churn on the Telco table, from Python
#
# A notebook-style walk through RetentionAI's Python module: train, look at the
# cross-validated quality, score, explain, ask "what if", and check drift. Every step runs in
# the Rust core (the same one as the `retention` command), on polars frames.
#
# Run it as a script (`retention-py/.venv/bin/python examples/notebook.py`) or cell by cell in
# an editor that understands `# %%` cells (VS Code, PyCharm, Jupytext).

# %%
import os
from pathlib import Path

import polars as pl

import retention

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd()
# Figures and the model file go to out/ (or RETENTION_EXAMPLE_OUT).
OUT = Path(os.environ.get("RETENTION_EXAMPLE_OUT", ROOT / "out"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The data
# The Telco table is built into the module (`retention.telco()`; `retention.generate(rows)` makes
# synthetic customers like it). For your own table, `retention.read_table("customers.csv")` reads
# a CSV or Parquet file exactly as the CLI does (every cell as text, blanks missing);
# `pl.read_csv` or a pandas frame work too.

# %%
customers = retention.telco()
print(customers.shape)
print(customers.select("customerID", "tenure", "Contract", "MonthlyCharges", "Churn").head(3))

# %% [markdown]
# ## Train
# `algorithm="auto"` cross-validates logistic regression, a decision tree, gradient boosting
# and a blend of the best two, and keeps the one with the lowest log-loss.

# %%
model = retention.train(
    customers, target="Churn", id="customerID", algorithm="auto", cv=5, progress=print
)
print(model)
print(model.leaderboard.select("name", "selected", "roc_auc", "roc_auc_std", "log_loss", "ece"))
cv = model.metrics["cv"]["summary"]
print(f"cross-validated ROC-AUC {cv['roc_auc']['mean']:.3f} ± {cv['roc_auc']['std']:.3f}")

# %% [markdown]
# ## Score
# One row per customer: the calibrated probability, the prediction at the threshold and the
# risk tier.

# %%
scores = model.score(customers, keep=["Contract", "MonthlyCharges"])
print(scores.sort("churn_probability", descending=True).head(5))
print(scores["risk_tier"].value_counts().sort("risk_tier"))

# %% [markdown]
# ## Why is this customer at risk?
# Contributions are in log-odds: positive pushes towards churn. For boosting they are exact
# TreeSHAP values.

# %%
riskiest = scores.sort("churn_probability", descending=True)["customerID"][0]
one = customers.filter(pl.col("customerID") == riskiest)
print(model.explain(one, top=5).transpose(include_header=True))

# %% [markdown]
# ## The whole contribution matrix
# One column per source column plus the expected value: each row adds up to the model's raw
# output (log-odds), the matrix shap's plots take (`model.shap_explanation` builds the
# `shap.Explanation` when shap is installed).

# %%
matrix = model.contributions(customers)
print(matrix.head(3))
raw = matrix.drop("customerID").sum_horizontal()
print("rows add up to the raw output:", raw.head(3).to_list())
try:
    import shap  # noqa: F401
except ImportError:
    shap = None
if shap is not None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shap.plots.beeswarm(model.shap_explanation(customers.sample(1000, seed=1)), show=False)
    plt.gcf().savefig(OUT / "shap_beeswarm.png", bbox_inches="tight")
    plt.close("all")
    print(f"shap beeswarm saved to {OUT / 'shap_beeswarm.png'}")

# %% [markdown]
# ## What if we offered a two-year contract?

# %%
print(model.what_if(one, {"Contract": "Two year"}).select(
    "id", "probability_before", "probability_after", "change"
))

# %% [markdown]
# ## Has the data moved?
# Here the "current" month is the same customers with bills 30 % higher.

# %%
current = customers.with_columns(
    (pl.col("MonthlyCharges").cast(pl.Float64) * 1.3).cast(pl.String)
)
report = retention.drift(customers, current, model=model)
print(report.status, "-", report.summary)
print(report.to_polars().select("column", "status", "psi", "p_value", "change").head(5))

# %% [markdown]
# ## Tune and chart it on customers it has not seen
# Every `retention train` option is a keyword (`trees`, `learning_rate`, `max_leaves`…);
# `retention.ChurnClassifier` is the same training for scikit-learn's `GridSearchCV`. The
# charts (`retention.plot`, matplotlib) draw the core's numbers on a holdout.

# %%
seen = customers.sample(fraction=0.8, seed=7)
holdout = customers.join(seen, on="customerID", how="anti")
tuned = retention.train(seen, target="Churn", id="customerID", algorithm="boosting",
                        trees=200, learning_rate=0.05, max_leaves=8, cv=5)
print(f"holdout ROC-AUC {tuned.evaluate(holdout)['roc_auc']:.3f}")
try:
    import matplotlib
except ImportError:
    matplotlib = None
if matplotlib is not None:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import retention.plot as rplot

    fig, axes = plt.subplots(2, 3, figsize=(16, 10))
    rplot.reliability(tuned, holdout, ax=axes[0, 0])
    rplot.roc(tuned, holdout, ax=axes[0, 1])
    rplot.precision_recall(tuned, holdout, ax=axes[0, 2])
    rplot.gain(tuned, holdout, ax=axes[1, 0])
    rplot.lift(tuned, holdout, ax=axes[1, 1])
    rplot.profit(tuned, holdout, ax=axes[1, 2])
    fig.tight_layout()
    fig.savefig(OUT / "quality.png")
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    rplot.importance(tuned, holdout, ax=axes[0])
    rplot.waterfall(tuned, holdout.head(1), ax=axes[1])
    rplot.drift(report, "MonthlyCharges", ax=axes[2])
    fig.tight_layout()
    fig.savefig(OUT / "explanations.png")
    plt.close("all")
    print(f"charts saved to {OUT / 'quality.png'} and {OUT / 'explanations.png'}")

# %% [markdown]
# ## Keep the model
# The file is the one `retention score`, `retention serve` and the registry read.

# %%
path = OUT / "telco.model"
model.save(path)
assert retention.ChurnModel.load(path).score(customers).equals(model.score(customers))
print(f"model saved to {path}")
