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
import tempfile
from pathlib import Path

import polars as pl

import retention

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd()
OUT = Path(os.environ.get("RETENTION_EXAMPLE_OUT", tempfile.mkdtemp(prefix="retention-")))

# %% [markdown]
# ## The data
# `retention.read_table` reads a CSV exactly as the CLI does (every cell as text, blanks
# missing); `pl.read_csv` or a pandas frame work too.

# %%
customers = retention.read_table(ROOT / "data" / "telco_customer_churn.csv")
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
# ## Keep the model
# The file is the one `retention score`, `retention serve` and the registry read.

# %%
path = OUT / "telco.model"
model.save(path)
assert retention.ChurnModel.load(path).score(customers).equals(model.score(customers))
print(f"model saved to {path}")
