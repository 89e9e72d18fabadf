"""The contribution matrix (one column per source column plus the expected value, rows adding
up to the raw output) and its shap.Explanation, drawn by shap's own plots."""

from __future__ import annotations

import math

import polars as pl
import pytest

import retention


@pytest.fixture(scope="module")
def plain(telco: pl.DataFrame) -> retention.ChurnModel:
    """Logistic regression without calibration: the probability is the logistic of the raw
    output, so the matrix's sums can be checked from Python."""
    return retention.train(telco, target="Churn", id="customerID", algorithm="logistic", cv=0,
                           calibration="none")


def test_rows_add_up_to_the_raw_output(plain: retention.ChurnModel, telco: pl.DataFrame) -> None:
    sample = telco.head(400)
    matrix = plain.contributions(sample)
    assert matrix.columns[0] == "customerID" and matrix.columns[-1] == "expected_value"
    sources = matrix.columns[1:-1]
    assert set(sources) == {c for c, role in plain.schema.items() if role in ("numeric", "categorical")}
    assert all(matrix[c].dtype == pl.Float64 for c in sources)
    assert matrix.height == 400 and matrix["customerID"].to_list() == sample["customerID"].to_list()
    raw = matrix.drop("customerID").sum_horizontal()
    probability = plain.score(sample)["churn_probability"]
    for r, p in zip(raw.to_list(), probability.to_list()):
        assert 1 / (1 + math.exp(-r)) == pytest.approx(p, abs=1e-12)
    assert matrix["expected_value"].n_unique() == 1


def test_the_matrix_holds_what_explain_ranks(boosting: retention.ChurnModel, telco: pl.DataFrame) -> None:
    sample = telco.head(200)
    matrix = boosting.contributions(sample)
    reasons = boosting.explain(sample, top=2)
    for i, row in enumerate(reasons.iter_rows(named=True)):
        column = row["reason_1"].split(" = ")[0]
        assert matrix[column][i] == row["contribution_1"]
        sources = matrix.drop("customerID", "expected_value").row(i)
        assert abs(row["contribution_1"]) == max(abs(v) for v in sources)


def test_a_model_without_an_id_numbers_the_rows(telco: pl.DataFrame) -> None:
    model = retention.train(telco.drop("customerID"), target="Churn", algorithm="logistic", cv=0)
    matrix = model.contributions(telco.drop("customerID").head(5))
    assert matrix["row"].to_list() == [1, 2, 3, 4, 5]


def test_bad_frames_get_the_usual_errors(plain: retention.ChurnModel, telco: pl.DataFrame) -> None:
    with pytest.raises(retention.ColumnNotFoundError, match="tenure"):
        plain.contributions(telco.head(10).drop("tenure"))


def test_shap_plots_draw_the_explanation(boosting: retention.ChurnModel, telco: pl.DataFrame, tmp_path) -> None:
    # Both are in requirements-dev.txt: the test runs wherever the suite runs.
    import matplotlib
    import shap

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sample = telco.head(300)
    explanation = boosting.shap_explanation(sample)
    matrix = boosting.contributions(sample)
    sources = matrix.columns[1:-1]
    assert explanation.values.shape == (300, len(sources))
    assert list(explanation.feature_names) == sources
    assert explanation.base_values[0] == matrix["expected_value"][0]
    assert explanation.data[0, sources.index("Contract")] == sample["Contract"][0]
    top = max(sources, key=lambda c: matrix[c].abs().mean())
    first = max(sources, key=lambda c: abs(matrix[c][0]))
    drawn = {
        # (draw, the x axis's label, a label the y axis must show)
        "beeswarm": (lambda: shap.plots.beeswarm(explanation, show=False), "SHAP value", top),
        "waterfall": (lambda: shap.plots.waterfall(explanation[0], show=False), "",
                      f"{sample[first][0]} = {first}"),
        "bar": (lambda: shap.plots.bar(explanation, show=False), "SHAP value", top),
    }
    for name, (draw, xlabel, ylabel) in drawn.items():
        plt.close("all")
        draw()
        ax = plt.gcf().axes[0]
        assert xlabel in ax.get_xlabel(), (name, ax.get_xlabel())
        shown = [t.get_text().strip() for t in ax.get_yticklabels()]
        assert ylabel in shown, (name, ylabel, shown)
        path = tmp_path / f"{name}.png"
        plt.gcf().savefig(path)
        assert path.stat().st_size > 5_000, name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close("all")


def test_a_frame_without_the_id_column_numbers_the_rows(plain: retention.ChurnModel, telco: pl.DataFrame) -> None:
    sample = telco.head(4)
    matrix = plain.contributions(sample.drop("customerID"))
    assert matrix["row"].to_list() == [1, 2, 3, 4]
    assert matrix.drop("row").equals(plain.contributions(sample).drop("customerID"))
