"""retention.ChurnClassifier is a scikit-learn classifier: its own estimator checks, and
cross_val_score, GridSearchCV and Pipeline on pandas and polars frames."""

from __future__ import annotations

import inspect

import numpy as np
import polars as pl
import pytest

import retention
from retention import _retention

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

# The checks that do not apply, and why (also in the class's documentation, README).
EXPECTED_FAILED = {
    "check_class_weight_classifiers": "class_weight is 'none' or 'balanced', as in retention.train; "
    "a dict of per-class weights is not offered",
}


@parametrize_with_checks(
    [retention.ChurnClassifier(algorithm="logistic", cv=0), retention.ChurnClassifier(algorithm="boosting", cv=0)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED,
)
def test_scikit_learns_estimator_checks(estimator, check) -> None:
    check(estimator)


def test_the_parameters_are_the_cores_training_options() -> None:
    defaults = {**_retention._defaults()["train"], "categorical": (), "numeric": (), "ignore": ()}
    clf = retention.ChurnClassifier()
    assert clf.get_params() == defaults
    signature = inspect.signature(retention.ChurnClassifier)
    assert {name: p.default for name, p in signature.parameters.items()} == defaults
    tuned = clone(retention.ChurnClassifier(trees=7, learning_rate=0.3).set_params(max_leaves=4))
    assert tuned.get_params()["trees"] == 7 and tuned.get_params()["max_leaves"] == 4
    with pytest.raises(TypeError, match="tres"):
        retention.ChurnClassifier(tres=7)


def xy(telco: pl.DataFrame):
    return telco.drop("Churn"), telco["Churn"].to_numpy()


def test_it_predicts_what_the_model_scores(telco: pl.DataFrame) -> None:
    X, y = xy(telco)
    clf = retention.ChurnClassifier(algorithm="boosting", cv=0).fit(X, y)
    assert list(clf.classes_) == ["No", "Yes"]
    assert list(clf.feature_names_in_) == X.columns and clf.n_features_in_ == X.width
    model = retention.train(telco, target="Churn", algorithm="boosting", cv=0)
    expected = model.score(X)
    proba = clf.predict_proba(X)
    assert proba.shape == (telco.height, 2)
    assert np.allclose(proba[:, 1], expected["churn_probability"].to_numpy(), atol=1e-12)
    assert np.allclose(proba.sum(axis=1), 1.0)
    predicted = clf.predict(X)
    assert ((predicted == "Yes") == (expected["churn_prediction"].to_numpy() == 1)).all()
    # The id column is the id, never a feature.
    assert "customerID" not in [c for c, r in clf.model_.schema.items() if r in ("numeric", "categorical")]


@pytest.mark.parametrize("kind", ["polars", "pandas"])
def test_cross_val_score_on_frames(telco: pl.DataFrame, kind: str) -> None:
    X, y = xy(telco)
    if kind == "pandas":
        X = X.to_pandas()
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(retention.ChurnClassifier(algorithm="logistic", cv=0), X, y, scoring="roc_auc", cv=folds)
    assert len(scores) == 3 and (scores > 0.8).all()


def test_grid_search_tunes_the_boosting(telco: pl.DataFrame) -> None:
    X, y = xy(telco.head(3000))
    grid = GridSearchCV(
        retention.ChurnClassifier(algorithm="boosting", cv=0),
        {"trees": [20, 60], "max_leaves": [4, 8]},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert grid.best_params_["trees"] in (20, 60) and grid.best_params_["max_leaves"] in (4, 8)
    assert len(set(np.round(grid.cv_results_["mean_test_score"], 6))) > 1, "the parameters changed nothing"
    assert grid.best_estimator_.model_.metrics is not None
    assert grid.predict_proba(X).shape == (3000, 2)


def test_in_a_pipeline(telco: pl.DataFrame) -> None:
    X, y = xy(telco)
    X = X.to_pandas()
    pipe = make_pipeline(
        FunctionTransformer(lambda frame: frame.drop(columns=["gender", "PhoneService"])),
        retention.ChurnClassifier(algorithm="logistic", cv=0),
    ).fit(X, y)
    model = pipe[-1].model_
    assert "gender" not in model.schema and "Contract" in model.schema
    assert pipe.score(X, y) > 0.75  # accuracy at the model's threshold


def test_object_arrays_keep_numbers_and_missing_values(telco: pl.DataFrame) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(object)
    X[::7, 0] = None
    y = (X[:, 1].astype(float) + rng.normal(size=400) > 0).astype(int)
    clf = retention.ChurnClassifier(algorithm="logistic", cv=0).fit(X, y)
    assert clf.model_.schema["x0"] == "numeric", clf.model_.schema
    frame = pl.DataFrame({"x0": X[:, 0].tolist(), "x1": X[:, 1].astype(float), "x2": X[:, 2].astype(float)},
                         strict=False)
    assert np.allclose(clf.predict_proba(X)[:, 1], clf.model_.score(frame)["churn_probability"].to_numpy())


def test_column_roles_are_parameters(telco: pl.DataFrame) -> None:
    X, y = xy(telco)
    clf = retention.ChurnClassifier(algorithm="logistic", cv=0, ignore=("gender",), categorical=("SeniorCitizen",))
    clf.fit(X, y)
    assert clf.model_.schema["gender"] == "ignored" and clf.model_.schema["SeniorCitizen"] == "categorical"
    with pytest.raises(ValueError, match="__retention_target__"):
        retention.ChurnClassifier(cv=0).fit(X.with_columns(pl.lit(1).alias("__retention_target__")), y)
