"""Charts of a churn model and of drift, drawn with matplotlib (``pip install matplotlib``).

Every number comes from the core (``ChurnModel.evaluate``, ``curves``, ``importance``,
``contributions``, ``DriftReport.bins``): these functions only draw. Each takes an optional
matplotlib ``ax`` and returns the axes it drew on.

>>> import retention.plot as rplot
>>> rplot.roc(model, holdout)
>>> rplot.waterfall(model, holdout.head(1))
>>> rplot.drift(report, "MonthlyCharges").figure.savefig("drift.png")
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ._retention import ChurnModel, DriftReport

__all__ = [
    "drift",
    "gain",
    "importance",
    "lift",
    "precision_recall",
    "profit",
    "reliability",
    "roc",
    "waterfall",
]

_CHURN = "#d62728"
_STAY = "#1f77b4"
_GREY = "#7f7f7f"


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


def _with_origin(curves: pl.DataFrame, x: str, y: str) -> tuple[list[float], list[float]]:
    """The curve's points with (0, 0): nobody contacted yet."""
    return [0.0, *curves[x].to_list()], [0.0, *curves[y].to_list()]


def reliability(model: ChurnModel, frame: Any, ax: Any = None) -> Any:
    """Reliability diagram: the mean predicted probability against the observed churn rate in
    ten probability bins (the diagonal is perfect calibration), with the bins' sizes."""
    ax = _axes(ax)
    metrics = model.evaluate(frame)
    bins = [b for b in metrics["reliability"] if b["rows"] > 0]
    ax.plot([0, 1], [0, 1], linestyle="--", color=_GREY, label="perfectly calibrated")
    ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], marker="o", color=_CHURN,
            label=f"model (ECE {metrics['ece']:.3f})")
    for b in bins:
        ax.annotate(f"{b['rows']:,}", (b["predicted"], b["observed"]), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7, color=_GREY)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted churn probability", ylabel="observed churn rate",
           title="Reliability")
    ax.legend(loc="upper left")
    return ax


def roc(model: ChurnModel, frame: Any, ax: Any = None) -> Any:
    """ROC curve: the share of churners found against the share of those who stay contacted."""
    ax = _axes(ax)
    curves = model.curves(frame)
    x, y = _with_origin(curves, "false_positive_rate", "recall")
    auc = model.evaluate(frame)["roc_auc"]
    ax.plot([0, 1], [0, 1], linestyle="--", color=_GREY, label="random")
    ax.plot(x, y, color=_CHURN, label=f"model (ROC-AUC {auc:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate (recall)",
           title="ROC")
    ax.legend(loc="lower right")
    return ax


def precision_recall(model: ChurnModel, frame: Any, ax: Any = None) -> Any:
    """Precision against recall, with the churn rate (a random model's precision)."""
    ax = _axes(ax)
    curves = model.curves(frame)
    metrics = model.evaluate(frame)
    ax.axhline(metrics["churn_rate"], linestyle="--", color=_GREY, label=f"churn rate {metrics['churn_rate']:.3f}")
    ax.plot(curves["recall"], curves["precision"], color=_CHURN, label=f"model (PR-AUC {metrics['pr_auc']:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="upper right")
    return ax


def gain(model: ChurnModel, frame: Any, ax: Any = None) -> Any:
    """Cumulative gain: the share of all churners among the customers contacted, highest
    probability first."""
    ax = _axes(ax)
    curves = model.curves(frame)
    x, y = _with_origin(curves, "contacted_share", "recall")
    rate = curves["churners"][-1] / curves["contacted"][-1]
    ax.plot([0, 1], [0, 1], linestyle="--", color=_GREY, label="random")
    ax.plot([0, rate, 1], [0, 1, 1], linestyle=":", color=_GREY, label="perfect")
    ax.plot(x, y, color=_CHURN, label="model")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="share of customers contacted", ylabel="share of churners found",
           title="Cumulative gain")
    ax.legend(loc="lower right")
    return ax


def lift(model: ChurnModel, frame: Any, ax: Any = None) -> Any:
    """Lift: how many times the churn rate the contacted customers' churn rate is."""
    ax = _axes(ax)
    curves = model.curves(frame)
    ax.axhline(1.0, linestyle="--", color=_GREY, label="random")
    ax.plot(curves["contacted_share"], curves["lift"], color=_CHURN, label="model")
    ax.set(xlim=(0, 1), ylim=(0, None), xlabel="share of customers contacted", ylabel="lift", title="Lift")
    ax.legend(loc="upper right")
    return ax


def profit(model: ChurnModel, frame: Any, ax: Any = None) -> Any:
    """Expected profit of contacting every customer at or above each threshold (the model's
    business values), with the model's threshold and the best one on these rows."""
    ax = _axes(ax)
    curves = model.curves(frame)
    ax.plot(curves["threshold"], curves["profit"], color=_CHURN, label="profit")
    best = curves.row(curves["profit"].arg_max(), named=True)
    ax.axvline(model.threshold, linestyle="--", color=_GREY, label=f"model's threshold {model.threshold:.2f}")
    ax.scatter([best["threshold"]], [best["profit"]], color=_STAY, zorder=3,
               label=f"best here: {best['threshold']:.2f} ({best['profit']:,.0f})")
    ax.axhline(0, color=_GREY, linewidth=0.5)
    ax.set(xlim=(0, 1), xlabel="threshold (contact at or above)", ylabel="expected profit", title="Profit")
    ax.legend(loc="best")
    return ax


def importance(model: ChurnModel, frame: Any, top: int = 15, ax: Any = None) -> Any:
    """Global importance: the mean absolute contribution (log-odds) of each source column."""
    ax = _axes(ax)
    ranked = model.importance(frame).head(top).reverse()
    ax.barh(ranked["feature"], ranked["importance"], color=_STAY)
    ax.set(xlabel="mean |contribution| (log-odds)", title="Importance")
    return ax


def waterfall(model: ChurnModel, customer: Any, top: int = 10, ax: Any = None) -> Any:
    """One customer's score built up from the model's expected output: each source column's
    contribution (log-odds; red raises churn risk), the smaller ones summed."""
    ax = _axes(ax)
    matrix = model.contributions(customer)
    if matrix.height != 1:
        raise ValueError(f"waterfall draws one customer; the frame has {matrix.height} rows")
    names = matrix.columns[1:-1]
    values = dict(zip(names, matrix.row(0)[1:-1]))
    expected = matrix["expected_value"][0]
    ranked = sorted(values, key=lambda c: abs(values[c]), reverse=True)
    shown = ranked[:top]
    rest = sum(values[c] for c in ranked[top:])
    labels = [*shown, f"{len(ranked) - len(shown)} other columns"] if len(ranked) > top else shown
    steps = [values[c] for c in shown] + ([rest] if len(ranked) > top else [])
    path = [expected]
    for step in steps:
        path.append(path[-1] + step)
    low, high = min(path), max(path)
    margin = 0.15 * (high - low or 1.0)
    ax.set_xlim(low - margin, high + margin)
    start = expected
    for i, (label, step) in enumerate(zip(labels, steps)):
        ax.barh(i, step, left=start, color=_CHURN if step > 0 else _STAY)
        ax.annotate(f"{step:+.2f}", (start + step, i), xytext=(3 if step > 0 else -3, 0),
                    textcoords="offset points", va="center", ha="left" if step > 0 else "right", fontsize=8)
        start += step
    ax.axvline(expected, linestyle="--", color=_GREY, linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    customer_id = matrix[matrix.columns[0]][0]
    ax.set(xlabel=f"log-odds (expected {expected:.2f} → this customer {start:.2f})",
           title=f"Why customer {customer_id}")
    return ax


def drift(report: DriftReport, column: str, ax: Any = None) -> Any:
    """A feature's distribution in the reference and the current table (numeric columns in
    the report's quantile bins, categories by level), with its status."""
    ax = _axes(ax)
    bins = report.bins(column)
    positions = list(range(bins.height))
    width = 0.4
    ax.bar([p - width / 2 for p in positions], bins["reference"], width, color=_STAY, label="reference")
    ax.bar([p + width / 2 for p in positions], bins["current"], width, color=_CHURN, label="current")
    ax.set_xticks(positions, bins["bin"].to_list(), rotation=30, ha="right", fontsize=8)
    feature = next((f for f in report.to_dict()["features"] if f["column"] == column), {})
    status = feature.get("status")
    ax.set(ylabel="share of rows", title=f"{column}" + (f": {status}" if status else ""))
    ax.legend(loc="best")
    return ax
