"""RetentionAI web app: the runbook's pages over the same Rust core as the CLI.

Run it with `python -m retention.app` (installed with the `app` extra: `pip install
"retentionai[app]"`); arguments after it go to `streamlit run` (`--server.port 8502`).

Settings (`retention config show` lists them; a variable beats the configuration file named by
RETENTIONAI_CONFIG, whose `[app]` section and top-level `db` the app reads):
    RETENTIONAI_DATA   customer table shown and scored (default: data/telco_customer_churn.csv
                       in the working folder, else the Telco table built into the module)
    RETENTIONAI_MODEL  a model file (default: the registry's champion, else a model trained here)
    RETENTIONAI_DB     the operations database for the Models page (default: data/retentionai.db)
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
import streamlit as st  # noqa: E402

import retention  # noqa: E402
import retention.plot as rplot  # noqa: E402
from retention.report import p_value_text  # noqa: E402

SETTINGS = retention.settings()
# Default paths are relative to the working folder, as the CLI's are. Without a table there the
# app shows the Telco table built into the module (BUNDLED), so a fresh install opens on data.
BUNDLED = "the bundled Telco table"
_data, _data_source = SETTINGS["data"]
DATA = BUNDLED if _data_source == "default" and not Path(_data or "").exists() else (_data or "")
DATA_NAME = DATA if DATA == BUNDLED else Path(DATA).name
MODEL = SETTINGS["model"][0]
DB = Path(SETTINGS["db"][0] or "")
PAGES = ["Overview", "Customer inspector", "Batch scoring", "Models", "Drift"]
TIER_ORDER = ["Low", "Medium", "High"]


# ---------------------------------------------------------------------------------------------
# Data and model, loaded once per process.


@st.cache_data(show_spinner="Reading customers…")
def load_customers(path: str) -> pl.DataFrame:
    return retention.telco() if path == BUNDLED else retention.read_table(path)


@st.cache_resource(show_spinner="Loading the model…")
def load_model(model_path: str | None, db: str, data: str) -> tuple[retention.ChurnModel, str]:
    """The model file named, else the registry's champion, else one trained on the data."""
    if model_path:
        return retention.ChurnModel.load(model_path), f"model file {model_path}"
    if Path(db).exists():
        store = retention.Store(db)
        champion = store.aliases().get("champion")
        if champion is not None:
            return store.load_model(champion), f"champion (version {champion}) of {db}"
    model = retention.train(load_customers(data), algorithm="auto", cv=5, progress=None)
    name = data if data == BUNDLED else Path(data).name
    return model, f"trained here on {name} (5-fold cross-validated)"


@st.cache_data(show_spinner="Scoring customers…")
def score_all(_model: retention.ChurnModel, model_key: str, data: str) -> pl.DataFrame:
    customers = load_customers(data)
    return _model.score(customers)


def id_column(model: retention.ChurnModel) -> str | None:
    return next((c for c, role in model.schema.items() if role == "id"), None)


def target_column(model: retention.ChurnModel) -> str | None:
    return next((c for c, role in model.schema.items() if role == "target"), None)


# ---------------------------------------------------------------------------------------------
# Pages.


def chart(draw: Callable[[Any], Any], width: float = 6, height: float = 4) -> None:
    """One retention.plot chart (the notebook's) on the page."""
    fig, ax = plt.subplots(figsize=(width, height))
    draw(ax)
    fig.tight_layout()
    st.pyplot(fig, clear_figure=True)
    plt.close(fig)


METRIC_NAMES = {
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "log_loss": "log-loss", "brier": "Brier score",
    "ece": "calibration error (ECE)", "accuracy": "accuracy", "precision": "precision",
    "recall": "recall", "f1": "F1", "mcc": "MCC", "lift_top_decile": "lift in the top 10 %",
    "threshold": "threshold", "churn_rate": "churn rate", "rows": "rows",
}


def metrics_table(metrics: dict[str, Any]) -> pl.DataFrame:
    """A model's metrics as a two-column table for people (no raw JSON)."""
    rows = []
    for key, label in METRIC_NAMES.items():
        value = metrics.get(key)
        if value is None:
            continue
        if key == "rows":
            text = f"{int(value):,}"
        elif key == "churn_rate":
            text = f"{value:.1%}"
        else:
            text = f"{value:.3f}"
        rows.append({"metric": label, "value": text})
    return pl.DataFrame(rows, schema={"metric": pl.String, "value": pl.String})


def overview(model: retention.ChurnModel, customers: pl.DataFrame, scores: pl.DataFrame) -> None:
    st.header("Overview")
    high = scores.filter(pl.col("risk_tier") == "High").height
    target = target_column(model)
    a, b, c, d = st.columns(4)
    a.metric("Customers scored", f"{scores.height:,}")
    if target and target in customers.columns:
        observed = customers[target].str.strip_chars().str.to_lowercase().is_in(["yes", "1", "true"]).mean()
        b.metric("Churn rate (observed)", f"{observed:.1%}")
    else:
        b.metric("Churn rate (expected)", f"{scores['churn_probability'].mean():.1%}")
    c.metric("High-risk customers", f"{high:,}")
    d.metric("Predicted to churn", f"{int(scores['churn_prediction'].sum()):,}")
    st.subheader("Risk tier mix")
    mix = (
        scores.group_by("risk_tier").len()
        .join(pl.DataFrame({"risk_tier": TIER_ORDER, "order": [0, 1, 2]}), on="risk_tier", how="right")
        .fill_null(0).sort("order").select("risk_tier", pl.col("len").alias("customers"))
    )
    st.bar_chart(mix.to_pandas(), x="risk_tier", y="customers", sort=False)
    st.subheader("Highest risk")
    st.dataframe(scores.sort("churn_probability", descending=True).head(10))
    st.subheader("What drives churn")
    sample = customers.sample(min(customers.height, 2000), seed=1)
    chart(lambda ax: rplot.importance(model, sample, ax=ax))


def reasons_long(explained: pl.DataFrame) -> pl.DataFrame:
    """The wide explain frame (reason_k, contribution_k) as one row per reason."""
    k = sum(1 for c in explained.columns if c.startswith("reason_"))
    rows = []
    for i in range(1, k + 1):
        reason = explained[f"reason_{i}"][0]
        if reason is not None:
            rows.append({"reason": reason, "contribution (log-odds)": explained[f"contribution_{i}"][0]})
    return pl.DataFrame(rows)


def inspector(model: retention.ChurnModel, customers: pl.DataFrame, scores: pl.DataFrame) -> None:
    st.header("Customer inspector")
    ids = id_column(model)
    if ids is None:
        st.info("This model has no customer id column: the inspector needs one.")
        return
    default = scores.sort("churn_probability", descending=True)[ids][0]
    customer = st.text_input("Customer id", value=default, key="customer_id").strip()
    row = customers.filter(pl.col(ids) == customer)
    if row.height == 0:
        st.warning(f"No customer {customer!r} in {DATA_NAME}.")
        return
    explained = model.explain(row, top=5)
    p = explained["churn_probability"][0]
    tier = model.score(row)["risk_tier"][0]
    a, b = st.columns(2)
    a.metric("Churn probability", f"{p:.1%}")
    b.metric("Risk tier", tier)
    st.subheader("Top reasons")
    st.caption("Positive contributions push towards churn, negative ones away from it.")
    st.dataframe(reasons_long(explained), key="reasons")
    st.subheader("How the score builds up")
    chart(lambda ax: rplot.waterfall(model, row, ax=ax), height=4.5)

    st.subheader("What if…")
    inputs = [c for c, role in model.schema.items() if role in ("numeric", "categorical")]
    chosen = st.multiselect("Change fields", inputs, key="what_if_fields")
    changes: dict[str, object] = {}
    for column in chosen:
        current = row[column][0]
        if model.schema[column] == "categorical":
            levels = sorted(v for v in customers[column].drop_nulls().unique().to_list())
            index = levels.index(current) if current in levels else 0
            changes[column] = st.selectbox(column, levels, index=index, key=f"set_{column}")
        else:
            try:
                value = float(current) if current not in (None, "") else 0.0
            except ValueError:
                value = 0.0
            changes[column] = st.number_input(column, value=value, key=f"set_{column}")
    if changes:
        result = model.what_if(row, changes, top=3).row(0, named=True)
        st.metric(
            "Churn probability with the changes",
            f"{result['probability_after']:.1%}",
            delta=f"{result['change'] * 100:+.1f} points",
            delta_color="inverse",
        )


def read_upload(upload) -> pl.DataFrame:
    data = upload.getvalue()
    if upload.name.lower().endswith(".parquet"):
        return pl.read_parquet(io.BytesIO(data))
    # Every cell as text, as the CLI reads a CSV: the core types and checks the cells.
    return pl.read_csv(io.BytesIO(data), infer_schema=False)


def batch(model: retention.ChurnModel) -> None:
    st.header("Batch scoring")
    st.write("Upload a customer table (CSV or Parquet) with the model's columns; download it scored.")
    upload = st.file_uploader("Customer table", type=["csv", "parquet"], key="batch_upload")
    if upload is None:
        return
    frame = read_upload(upload)
    keep = st.multiselect("Columns to keep in the output", frame.columns, key="batch_keep")
    scored = model.score(frame, keep=keep)
    buffer = io.BytesIO()
    scored.write_csv(buffer)
    st.session_state["scored_csv"] = buffer.getvalue()
    tiers = scored["risk_tier"].value_counts().sort("risk_tier")
    st.success(
        f"Scored {scored.height:,} customers: {int(scored['churn_prediction'].sum()):,} predicted to churn."
    )
    st.dataframe(tiers)
    st.download_button(
        "Download the scored file",
        data=st.session_state["scored_csv"],
        file_name=f"{Path(upload.name).stem}_scored.csv",
        mime="text/csv",
        key="batch_download",
    )
    st.dataframe(scored.head(20))


def models(model: retention.ChurnModel, source: str, customers: pl.DataFrame) -> None:
    st.header("Models")
    st.write(f"Serving: **{model.algorithm}** — {source}.")
    st.subheader("Cross-validated candidates")
    if model.leaderboard.height:
        st.dataframe(model.leaderboard)
    else:
        st.caption("This model was trained without cross-validation.")
    figures = model.metrics.get("out_of_fold") or model.metrics.get("training") or {}
    which = "out-of-fold (cross-validated)" if model.metrics.get("out_of_fold") else "on the training rows"
    st.subheader(f"Quality, {which}")
    st.dataframe(metrics_table(figures), key="model_metrics", hide_index=True)
    target = target_column(model)
    if target and target in customers.columns:
        st.subheader(f"Charts on {DATA_NAME}")
        st.caption("On the table the app shows: optimistic if the model was trained on it.")
        left, right = st.columns(2)
        with left:
            chart(lambda ax: rplot.reliability(model, customers, ax=ax))
            chart(lambda ax: rplot.gain(model, customers, ax=ax))
        with right:
            chart(lambda ax: rplot.roc(model, customers, ax=ax))
            chart(lambda ax: rplot.profit(model, customers, ax=ax))

    st.subheader("Registry")
    if not DB.exists():
        st.info(f"No operations database at {DB}: register a model with `retention model register` "
                "or set RETENTIONAI_DB.")
        return
    store = retention.Store(DB)
    aliases = store.aliases()
    versions = store.versions()
    a, b = st.columns(2)
    a.metric("Champion", f"v{aliases['champion']}" if aliases["champion"] else "none")
    b.metric(
        "Challenger",
        f"v{aliases['challenger']} ({aliases['split']:.0%})" if aliases["challenger"] else "none",
    )
    st.dataframe(versions.drop("sha256"))
    if versions.height == 0:
        return

    # Registry changes need an API key (as `retention serve` does); the audit log records the
    # key's name, not the user the app runs as.
    st.subheader("Change the registry")
    key = st.text_input("API key (`retention auth create-key --name NAME`)", type="password", key="api_key")
    name = store.api_key_name(key) if key else None
    if key and name is None:
        st.warning("This key is unknown or revoked.")
    if name is None:
        st.caption("Promote and roll back need an active API key.")
        return
    st.caption(f"Acting as key '{name}' (recorded in the audit log).")
    store = retention.Store(DB, actor=f"api-key:{name}")

    st.subheader("Promote")
    candidates = [v for v in versions["version"].to_list() if v != aliases["champion"]]
    if candidates:
        version = st.selectbox("Version", candidates, key="promote_version")
        force = st.checkbox("Override a failing gate", key="promote_force")
        reason = st.text_input("Reason (recorded)", key="promote_reason") if force else None
        confirm = st.checkbox(f"I confirm: make version {version} the champion", key="promote_confirm")
        if st.button("Promote", disabled=not confirm, key="promote"):
            outcome = store.promote(version, force=force, reason=reason)
            st.success(f"Version {outcome['version']} is the champion"
                       + (f" (was {outcome['previous']})." if outcome["previous"] else "."))
    st.subheader("Roll back")
    if aliases["champion"]:
        confirm = st.checkbox("I confirm: restore the previous champion", key="rollback_confirm")
        if st.button("Roll back", disabled=not confirm, key="rollback"):
            restored = store.rollback("rolled back from the web app")
            st.success(f"Version {restored} is the champion again.")


def drift_page(model: retention.ChurnModel, customers: pl.DataFrame) -> None:
    st.header("Drift")
    st.write(f"Reference: {DATA_NAME} ({customers.height:,} rows). Current: a table you upload, or a "
             "demonstration copy with bills 30 % higher.")
    upload = st.file_uploader("Current table", type=["csv", "parquet"], key="drift_upload")
    if upload is not None:
        current = read_upload(upload)
    elif "MonthlyCharges" in customers.columns:
        current = customers.with_columns(
            (pl.col("MonthlyCharges").cast(pl.Float64, strict=False) * 1.3).cast(pl.String)
        )
    else:
        st.info("Upload a current table to compare.")
        return
    report = retention.drift(customers, current, model=model)
    show = {"ok": st.success, "warn": st.warning, "alert": st.error}[report.status]
    show(f"{report.status.upper()}: {report.summary}")
    table = report.to_polars()
    shown = table.select(
        "column",
        "status",
        pl.col("psi").round(3),
        pl.col("p_value").map_elements(p_value_text, return_dtype=pl.String),
        (pl.col("missing_current") * 100).round(1).alias("missing now (%)"),
        "change",
    )
    st.dataframe(shown, key="drift_table", hide_index=True)
    feature = st.selectbox("Feature", table["column"].to_list(), key="drift_feature")
    chart(lambda ax: rplot.drift(report, feature, ax=ax), width=7)
    if report.prediction:
        p = report.prediction
        a, b, c = st.columns(3)
        a.metric("Mean probability", f"{p['mean_current']:.1%}",
                 delta=f"{(p['mean_current'] - p['mean_reference']) * 100:+.1f} points", delta_color="inverse")
        b.metric("Prediction PSI", f"{p['psi']:.3f}")
        c.metric("Expected ROC-AUC", f"{p['estimated_current']['roc_auc']:.3f}")


# ---------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="RetentionAI", layout="wide")
    st.sidebar.title("RetentionAI")
    page = st.sidebar.radio("Page", PAGES, key="page")
    try:
        customers = load_customers(DATA)
        model, source = load_model(MODEL, str(DB), DATA)
        st.sidebar.caption(f"Model: {model.algorithm}, {source}")
        if page == "Overview":
            overview(model, customers, score_all(model, source, DATA))
        elif page == "Customer inspector":
            inspector(model, customers, score_all(model, source, DATA))
        elif page == "Batch scoring":
            batch(model)
        elif page == "Models":
            models(model, source, customers)
        else:
            drift_page(model, customers)
    except (retention.RetentionError, OSError, pl.exceptions.PolarsError, ValueError) as e:
        # Users see what went wrong in words, never a traceback.
        st.error(f"{type(e).__name__}: {e}")


main()
