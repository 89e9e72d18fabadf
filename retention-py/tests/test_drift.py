"""retention.drift and DriftReport."""

from __future__ import annotations

import json
import subprocess

import polars as pl
import pytest

import retention


def shifted(telco: pl.DataFrame) -> pl.DataFrame:
    """Customers whose bills rose 40 % and who all moved to month-to-month contracts."""
    return telco.with_columns(
        (pl.col("MonthlyCharges").cast(pl.Float64) * 1.4).cast(pl.String).alias("MonthlyCharges"),
        pl.lit("Month-to-month").alias("Contract"),
    )


def test_same_table_does_not_drift(telco, model):
    report = retention.drift(telco, telco, model=model)
    assert report.status == "ok"
    assert report.drifting == []
    assert "DriftReport(status=\"ok\"" in repr(report)


def test_shifted_table_alerts_with_the_changed_columns_first(telco, model):
    report = retention.drift(telco, shifted(telco), model=model)
    assert report.status == "alert"
    assert set(report.drifting[:2]) == {"MonthlyCharges", "Contract"}
    table = report.to_polars()
    assert table.columns == [
        "column", "kind", "status", "psi", "p_value", "ks_statistic", "wasserstein",
        "chi_square", "js_distance", "missing_reference", "missing_current", "change", "note",
    ]
    assert table.height == len(model.schema) - 2  # every input, not the id or the target
    contract = table.filter(pl.col("column") == "Contract").row(0, named=True)
    assert contract["kind"] == "categorical" and contract["chi_square"] > 0
    bins = report.bins("MonthlyCharges")
    assert bins.columns == ["bin", "reference", "current"]
    assert bins["reference"].sum() == pytest.approx(1.0)
    with pytest.raises(retention.ColumnNotFoundError):
        report.bins("Nope")
    prediction = report.prediction
    assert prediction["psi"] > 0
    assert prediction["mean_current"] != pytest.approx(prediction["mean_reference"], abs=1e-3)


def test_to_dict_is_the_json_report(telco, model):
    report = retention.drift(telco, shifted(telco), model=model)
    d = report.to_dict()
    assert d == json.loads(report.to_json())
    assert d["verdict"]["status"] == "alert"
    assert d["reference_rows"] == d["current_rows"] == 7043


def test_without_a_model_roles_are_inferred(telco):
    report = retention.drift(telco, shifted(telco).drop("gender"), target="Churn", id="customerID")
    assert report.prediction is None
    assert report.to_dict()["missing_columns"] == ["gender"]
    assert report.status == "alert"


def test_drift_equals_the_cli(telco, telco_path, model, cli, tmp_path):
    current = tmp_path / "current.csv"
    shifted(telco).write_csv(current)
    model_path = tmp_path / "m.model"
    model.save(model_path)
    run = subprocess.run(
        [cli, "drift", "--reference", str(telco_path), "--current", str(current),
         "--model", str(model_path), "--json"],
        capture_output=True, text=True,
    )
    theirs = json.loads(run.stdout)
    ours = retention.drift(telco, retention.read_table(current), model=model).to_dict()
    assert ours == theirs


def test_drift_of_two_files_is_streamed_and_equals_the_frames(telco, telco_path, model, tmp_path):
    current = tmp_path / "current.csv"
    retention.generate(150_000, seed=4, shift=["tenure=-6"]).write_csv(current)
    reference = tmp_path / "reference.parquet"
    retention.generate(120_000, seed=5).write_parquet(reference)
    for ref, cur, m in [(telco_path, current, model), (str(reference), str(current), model),
                        (reference, current, None)]:
        streamed = retention.drift(ref, cur, model=m)
        whole = retention.drift(retention.read_table(ref), retention.read_table(cur), model=m)
        assert streamed.to_dict() == whole.to_dict()
    # A path beside a frame: the file is read whole.
    mixed = retention.drift(telco_path, retention.read_table(current), model=model)
    assert mixed.to_dict() == retention.drift(telco, retention.read_table(current), model=model).to_dict()
