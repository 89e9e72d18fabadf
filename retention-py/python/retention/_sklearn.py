"""``retention.ChurnClassifier``: the core's training behind scikit-learn's estimator API, for
``cross_val_score``, ``GridSearchCV`` and ``Pipeline``.

Its parameters are ``retention.train``'s options, taken from the core's table with their
defaults (nothing is named or defaulted twice here): ``ChurnClassifier(trees=300,
learning_rate=0.05)`` is ``retention.train(..., trees=300, learning_rate=0.05)``.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from . import _retention
from ._frames import to_polars
from ._retention import ChurnModel, train

_TARGET = "__retention_target__"


# Column roles for the table X: which columns to read as categories or numbers, or leave out.
_ROLES: dict[str, Any] = {"categorical": (), "numeric": (), "ignore": ()}


def _options() -> dict[str, Any]:
    """The estimator's parameters: the training options with their core defaults, then the
    column roles."""
    return {**_retention._defaults()["train"], **_ROLES}


def _is_frame(X: Any) -> bool:
    # A plain dict of columns; not a dict-like such as scipy's DOK sparse matrix.
    return isinstance(X, (pl.DataFrame, pl.LazyFrame)) or type(X) is dict or (type(X).__module__ or "").startswith("pandas")


def _frame(X: Any, names: list[str] | None = None) -> pl.DataFrame:
    """``X`` as a polars frame: frames keep their columns; arrays (checked as scikit-learn
    checks them: 2D, not sparse, not complex, not empty) get ``x0``, ``x1``… or the names seen
    in ``fit``."""
    if _is_frame(X):
        frame, _ = to_polars(X)
        if frame.width == 0 or frame.height == 0:
            raise ValueError(f"Found a frame of shape {frame.shape}: no rows or no columns")
        return frame
    array = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1)
    columns = names if names is not None and len(names) == array.shape[1] else [f"x{i}" for i in range(array.shape[1])]
    if array.dtype != object:
        return pl.DataFrame({c: array[:, i] for i, c in enumerate(columns)})
    # Object arrays: each column as polars infers it (numbers stay numbers), None missing.
    series = []
    for i, c in enumerate(columns):
        values = array[:, i].tolist()
        try:
            series.append(pl.Series(c, values, strict=False))
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            series.append(pl.Series(c, [None if v is None else str(v) for v in values], dtype=pl.String))
    return pl.DataFrame(series)


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """A churn model as a scikit-learn classifier: ``fit(X, y)`` trains with
    ``retention.train`` (every option is a parameter, with the core's defaults, and so are the
    column roles ``categorical``, ``numeric`` and ``ignore``),
    ``predict_proba`` gives the calibrated probabilities of ``classes_`` (the churn class
    last), ``predict`` applies the model's threshold. ``X`` is a polars or pandas frame (or a
    2D array: columns ``x0``, ``x1``…); a column such as ``customerID`` is taken as the id, as
    ``retention.train`` does, and never as a feature. ``model_`` is the trained
    ``retention.ChurnModel``.

    Example:
        >>> from sklearn.model_selection import cross_val_score
        >>> cross_val_score(retention.ChurnClassifier(algorithm="boosting", cv=0), X, y, scoring="roc_auc")
    """

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(_options())
        if unknown:
            raise TypeError(f"ChurnClassifier got unknown parameters: {', '.join(sorted(unknown))}")
        for name, default in _options().items():
            setattr(self, name, params.get(name, default))

    def fit(self, X: Any, y: Any) -> "ChurnClassifier":
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        frame = _frame(X)
        # A column vector warns (DataConversionWarning) and is flattened, as in scikit-learn.
        labels = column_or_1d(np.asarray(y), warn=True)
        if len(labels) != frame.height:
            raise ValueError(f"y must be one label per row of X: {frame.height} rows, y of shape {np.shape(y)}")
        if frame.height < 2:
            raise ValueError(f"n_samples={frame.height}: training needs at least 2 samples")
        kind = type_of_target(labels)
        if kind == "multiclass":
            raise ValueError(
                "Only binary classification is supported: churned or not "
                f"({len(np.unique(labels))} classes in y)"
            )
        if kind != "binary":
            raise ValueError(f"Unknown label type: {kind}; y must hold two classes (churned or not)")
        classes = np.unique(labels)
        if len(classes) != 2:
            raise ValueError(f"y holds one class only ({classes[0]!r}): churned and not churned are both needed")
        self.classes_ = classes
        churned = (labels == classes[1]).astype(np.int32)
        if _TARGET in frame.columns:
            raise ValueError(f"X has a column named {_TARGET!r}, the name ChurnClassifier gives y: rename it")
        params = {name: getattr(self, name) for name in _options()}
        for role in _ROLES:
            params[role] = list(params[role])
        self.model_: ChurnModel = train(frame.with_columns(pl.Series(_TARGET, churned)), target=_TARGET, **params)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.width
        return self

    def _scores(self, X: Any) -> pl.DataFrame:
        check_is_fitted(self, "model_")
        frame = _frame(X, list(self.feature_names_in_))
        if frame.width != self.n_features_in_:
            raise ValueError(
                f"X has {frame.width} features, but ChurnClassifier is expecting {self.n_features_in_} features as input"
            )
        return self.model_.score(frame)

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self._scores(X)["churn_probability"].to_numpy()
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        predicted = self._scores(X)["churn_prediction"].to_numpy().astype(int)
        return self.classes_[predicted]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags


# scikit-learn reads an estimator's parameters from its __init__ signature: give it the core's.
ChurnClassifier.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value) for name, value in _options().items()]
)
