"""train, ChurnModel.score / explain / what_if / evaluate / save / load and the properties."""

from __future__ import annotations

import json
import pickle
import subprocess
import warnings

import polars as pl
import pytest

import retention


def test_train_reports_cross_validated_quality(model):
    cv = model.metrics["cv"]["summary"]
    assert 0.80 < cv["roc_auc"]["mean"] < 0.90
    assert model.metrics["out_of_fold"]["rows"] == 7043
    assert model.algorithm == "logistic"
    assert model.threshold == 0.5
    assert model.tiers == {"medium": 0.3, "high": 0.7}
    assert model.provenance["rows"] == 7043
    assert "ChurnModel(algorithm=\"logistic\"" in repr(model)


def test_schema_and_leaderboard(model, boosting):
    schema = model.schema
    assert schema["customerID"] == "id"
    assert schema["Churn"] == "target"
    assert schema["tenure"] == "numeric"
    assert schema["Contract"] == "categorical"
    board = model.leaderboard
    assert board.columns[:4] == ["name", "selected", "roc_auc", "roc_auc_std"]
    assert board.filter(pl.col("selected"))["name"].to_list() == ["logistic"]
    assert boosting.leaderboard.height == 0  # no cross-validation, no leaderboard
    assert boosting.metrics["cv"] is None


def test_auto_compares_candidates_and_reports_progress(telco):
    lines: list[str] = []
    model = retention.train(
        telco.head(1500), target="Churn", id="customerID", cv=2, progress=lines.append
    )
    assert model.leaderboard.height >= 3
    assert model.leaderboard["selected"].sum() == 1
    assert any("folds done" in line for line in lines)
    assert any("final model" in line for line in lines)


def test_score_columns_tiers_and_keep(model, telco):
    scores = model.score(telco, keep=["Contract"])
    assert scores.columns == ["customerID", "churn_probability", "churn_prediction", "risk_tier", "Contract"]
    assert scores.height == 7043
    p = scores["churn_probability"]
    assert p.min() >= 0.0 and p.max() <= 1.0
    high = scores.filter(pl.col("risk_tier") == "High")
    assert high["churn_probability"].min() >= 0.7
    assert scores.filter(pl.col("churn_prediction") == 1)["churn_probability"].min() >= 0.5


def test_scores_equal_the_cli(model, telco_path, cli, tmp_path):
    path = tmp_path / "churn.model"
    model.save(path)
    out = tmp_path / "scores.csv"
    subprocess.run([cli, "score", "--model", str(path), "--data", str(telco_path), "--out", str(out)],
                   check=True, capture_output=True)
    theirs = pl.read_csv(out)
    ours = model.score(retention.read_table(telco_path))
    assert theirs["customerID"].to_list() == ours["customerID"].to_list()
    assert (theirs["churn_probability"] - ours["churn_probability"]).abs().max() < 1e-12
    assert theirs["risk_tier"].to_list() == ours["risk_tier"].to_list()


def test_unseen_levels_warn(model, telco):
    frame = telco.head(5).with_columns(pl.lit("Ten year").alias("Contract"))
    with pytest.warns(retention.RetentionWarning, match="Contract"):
        model.score(frame)


def test_explain_gives_reasons_that_add_up(boosting, telco):
    one = telco.filter(pl.col("customerID") == "7590-VHVEG")
    reasons = boosting.explain(one, top=3)
    assert reasons.columns == [
        "id", "churn_probability", "reason_1", "contribution_1",
        "reason_2", "contribution_2", "reason_3", "contribution_3",
    ]
    assert reasons["id"].to_list() == ["7590-VHVEG"]
    assert reasons["churn_probability"][0] == pytest.approx(boosting.score(one)["churn_probability"][0], abs=1e-12)
    contributions = [abs(reasons[f"contribution_{k}"][0]) for k in (1, 2, 3)]
    assert contributions == sorted(contributions, reverse=True)
    assert " = " in reasons["reason_1"][0]


def test_what_if_changes_the_probability(model, telco):
    one = telco.filter(pl.col("customerID") == "7590-VHVEG")  # month-to-month, 1 month tenure
    result = model.what_if(one, {"Contract": "Two year", "tenure": 48})
    assert result.columns[:4] == ["id", "probability_before", "probability_after", "change"]
    row = result.row(0, named=True)
    assert row["probability_after"] < row["probability_before"]
    assert row["change"] == pytest.approx(row["probability_after"] - row["probability_before"])
    with pytest.raises(retention.ColumnNotFoundError, match="Contrat"):
        model.what_if(one, {"Contrat": "Two year"})


def test_evaluate_and_importance(model, telco):
    metrics = model.evaluate(telco)
    assert {"roc_auc", "accuracy", "log_loss", "brier", "ece", "rows"} <= metrics.keys()
    assert metrics["rows"] == 7043
    assert metrics["roc_auc"] > 0.8
    ranked = model.importance(telco.head(500))
    assert ranked.columns == ["feature", "importance"]
    assert ranked["importance"].to_list() == sorted(ranked["importance"].to_list(), reverse=True)


def test_save_load_bytes_and_pickle_round_trip(model, telco, tmp_path):
    path = tmp_path / "m.model"
    model.save(path)
    assert json.loads(path.read_text())["format"] == "retentionai-model"
    expected = model.score(telco)
    for copy in (
        retention.ChurnModel.load(path),
        retention.ChurnModel.load(str(path)),
        retention.ChurnModel.from_bytes(model.to_bytes()),
        pickle.loads(pickle.dumps(model)),
    ):
        assert copy.score(telco).equals(expected)
    assert not list(tmp_path.glob("*.tmp"))


def test_training_options(telco):
    model = retention.train(
        telco, target="Churn", id="customerID", algorithm="logistic", cv=3,
        calibration="isotonic", threshold_objective="profit", tiers=(0.2, 0.6),
        ignore=["gender"],
    )
    assert model.tiers == {"medium": 0.2, "high": 0.6}
    assert model.schema["gender"] == "ignored"
    assert model.threshold != 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.score(telco.head(10))
