"""Frames crossing into the core: version pairing, dtypes, pandas input."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import retention
from conftest import ROOT


def test_python_polars_is_the_pinned_one():
    # The suite runs on requirements-dev.txt's polars, the top of pyproject's range
    # (tests/test_wheel.py tries the floor and 2.0).
    pins = (ROOT / "retention-py" / "requirements-dev.txt").read_text(encoding="utf-8")
    assert f"polars=={pl.__version__}\n" in pins, pl.__version__
    assert '"polars>=1.28.1,<2.2"' in (ROOT / "retention-py" / "pyproject.toml").read_text(encoding="utf-8")
    assert retention.__version__ == "0.1.0"


def test_read_table_reads_like_the_cli(telco: pl.DataFrame):
    assert telco.shape == (7043, 21)
    assert all(dtype == pl.String for dtype in telco.dtypes)
    # Cells are kept as written (the 11 blank TotalCharges are a space); typing happens in the core.
    assert (telco["TotalCharges"].str.strip_chars() == "").sum() == 11


def test_typed_polars_frame_scores_like_the_text_frame(model, telco, telco_path):
    typed = pl.read_csv(telco_path)  # tenure as Int64, MonthlyCharges as Float64
    assert typed["tenure"].dtype == pl.Int64
    a = model.score(telco)
    b = model.score(typed)
    assert a["customerID"].to_list() == b["customerID"].to_list()
    diff = (a["churn_probability"] - b["churn_probability"]).abs().max()
    assert diff < 1e-12


def test_pandas_frames_are_accepted_and_results_are_polars(model, telco):
    pd = pytest.importorskip("pandas")
    frame = telco.head(200).to_pandas()
    assert isinstance(frame, pd.DataFrame)
    scores = model.score(frame)
    assert isinstance(scores, pl.DataFrame)
    expected = model.score(telco.head(200))
    assert scores["churn_probability"].to_list() == expected["churn_probability"].to_list()
    # pandas categoricals and a LazyFrame are read too.
    frame["Contract"] = frame["Contract"].astype("category")
    assert model.score(frame)["churn_probability"].to_list() == expected["churn_probability"].to_list()
    assert model.score(telco.head(200).lazy()).equals(expected)


def test_other_dtypes_are_read_as_text(model, telco):
    frame = telco.head(50).with_columns(
        pl.col("Contract").cast(pl.Categorical),
        pl.lit(dt.date(2026, 11, 1)).alias("snapshot"),
    )
    scores = model.score(frame, keep=["snapshot"])
    assert scores["snapshot"].dtype == pl.String
    assert scores["churn_probability"].to_list() == model.score(telco.head(50))["churn_probability"].to_list()


@pytest.mark.parametrize("dtype", [pl.Int8, pl.Int16, pl.UInt8, pl.UInt16])
def test_small_whole_numbers_train_score_and_drift_like_wide_ones(telco, dtype):
    sample = telco.head(400).with_columns(pl.col("SeniorCitizen", "tenure").cast(pl.Int64))
    narrow = sample.with_columns(pl.col("SeniorCitizen", "tenure").cast(dtype))
    model = retention.train(sample, target="Churn", id="customerID", algorithm="logistic", cv=0)
    assert retention.train(narrow, target="Churn", id="customerID", algorithm="logistic",
                           cv=0).score(sample).equals(model.score(sample))
    assert model.score(narrow).equals(model.score(sample))
    assert model.explain(narrow.head(5)).equals(model.explain(sample.head(5)))
    assert retention.drift(sample, narrow, model=model).status == "ok"
    pd = pytest.importorskip("pandas")
    downcast = sample.to_pandas()
    downcast["tenure"] = pd.to_numeric(downcast["tenure"], downcast="integer")
    assert model.score(downcast).equals(model.score(sample))


def test_something_that_is_not_a_frame_is_a_type_error(model):
    with pytest.raises(TypeError, match="expected a polars or pandas DataFrame"):
        model.score([1, 2, 3])


def test_one_customer_from_a_dict_with_a_missing_number(model, telco):
    row = {k: [v] for k, v in telco.row(0, named=True).items()}
    row["TotalCharges"] = [None]  # a column of polars' Null type
    blank = telco.head(1).with_columns(pl.lit(None, dtype=pl.String).alias("TotalCharges"))
    assert model.score(row).equals(model.score(blank))


def test_columns_neither_numbers_nor_text_are_named(model, telco):
    frame = telco.head(20).with_columns(pl.duration(days=pl.int_range(20)).alias("since"))
    with pytest.raises(retention.SchemaMismatchError, match="since"):
        model.score(frame)


def test_a_binary_column_scores_as_it_trained(telco):
    """Bytes are read as text when training, so scoring the same frame is not refused."""
    sample = telco.head(400).with_columns(pl.col("tenure").cast(pl.Binary))
    model = retention.train(sample, target="Churn", id="customerID", algorithm="logistic", cv=0)
    assert model.schema["tenure"] == "numeric"
    text = retention.train(telco.head(400), target="Churn", id="customerID", algorithm="logistic", cv=0)
    assert model.score(sample)["churn_probability"].to_list() == text.score(telco.head(400))["churn_probability"].to_list()
