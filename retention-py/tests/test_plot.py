"""retention.plot: every chart renders to a non-empty image with the axes it promises, from the
core's numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402

import retention  # noqa: E402
import retention.plot as rplot  # noqa: E402


@pytest.fixture(scope="module")
def drifted(model: retention.ChurnModel, telco: pl.DataFrame) -> retention.DriftReport:
    current = telco.tail(3000).with_columns(
        (pl.col("MonthlyCharges").cast(pl.Float64) * 1.3).cast(pl.String).alias("MonthlyCharges"))
    return retention.drift(telco.head(3000), current, model=model)


CHARTS = {
    # name: (draw(model, telco, report), x label contains, y label contains, title contains)
    "reliability": (lambda m, t, r: rplot.reliability(m, t), "predicted", "observed", "Reliability"),
    "roc": (lambda m, t, r: rplot.roc(m, t), "false positive", "true positive", "ROC"),
    "precision_recall": (lambda m, t, r: rplot.precision_recall(m, t), "recall", "precision", "Precision"),
    "gain": (lambda m, t, r: rplot.gain(m, t), "contacted", "churners found", "gain"),
    "lift": (lambda m, t, r: rplot.lift(m, t), "contacted", "lift", "Lift"),
    "profit": (lambda m, t, r: rplot.profit(m, t), "threshold", "profit", "Profit"),
    "importance": (lambda m, t, r: rplot.importance(m, t), "contribution", "", "Importance"),
    "waterfall": (lambda m, t, r: rplot.waterfall(m, t.head(1)), "log-odds", "", "7590-VHVEG"),
    "drift": (lambda m, t, r: rplot.drift(r, "MonthlyCharges"), "", "share of rows", "MonthlyCharges: alert"),
}


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_each_chart_renders_with_its_axes(name, model, telco, drifted, tmp_path) -> None:
    draw, xlabel, ylabel, title = CHARTS[name]
    plt.close("all")
    ax = draw(model, telco, drifted)
    assert xlabel in ax.get_xlabel() and ylabel in ax.get_ylabel(), (ax.get_xlabel(), ax.get_ylabel())
    assert title in ax.get_title(), ax.get_title()
    assert ax.has_data()
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    plt.close("all")


def test_the_charts_draw_the_cores_numbers(model, telco) -> None:
    ax = rplot.roc(model, telco)
    line = ax.get_lines()[-1]
    curves = model.curves(telco)
    assert list(line.get_xdata())[1:] == curves["false_positive_rate"].to_list()
    ax = rplot.waterfall(model, telco.head(1), top=100)
    bars = [p.get_width() for p in ax.patches]
    matrix = model.contributions(telco.head(1))
    assert sum(bars) + matrix["expected_value"][0] == pytest.approx(
        sum(matrix.row(0)[1:]), abs=1e-9)
    plt.close("all")


def test_a_waterfall_is_for_one_customer(model, telco) -> None:
    with pytest.raises(ValueError, match="one customer"):
        rplot.waterfall(model, telco.head(2))
    plt.close("all")
