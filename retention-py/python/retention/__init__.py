"""RetentionAI: churn prediction you can trust, from Python.

The same Rust core as the ``retention`` command and ``retention serve``: train a model, score
customers with risk tiers, explain each score, check drift, and run the model registry, on
polars or pandas frames. Results are polars frames (``.to_pandas()`` converts them).

>>> import polars as pl, retention
>>> df = retention.read_table("data/telco_customer_churn.csv")
>>> model = retention.train(df, target="Churn", id="customerID")
>>> model.score(df).head()
>>> model.explain(df.head(3), top=3)
>>> retention.drift(df, df, model=model).status
'ok'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors
from ._retention import (
    ChurnModel,
    DriftReport,
    Store,
    __version__,
    drift,
    generate,
    read_table,
    settings,
    telco,
    train,
)
from .errors import (
    ColumnNotFoundError,
    ConfigError,
    CorruptModelError,
    DataFrameError,
    FeatureSpecError,
    InvalidDataError,
    InvalidParameterError,
    InvalidValueError,
    MalformedFileError,
    RegistryError,
    RetentionError,
    RetentionWarning,
    SchemaMismatchError,
    StoreError,
    TrainingError,
    UnsupportedFormatError,
)

__all__ = [
    "ChurnClassifier",
    "ChurnModel",
    "DriftReport",
    "Store",
    "__version__",
    "drift",
    "errors",
    "generate",
    "read_table",
    "settings",
    "telco",
    "train",
    *errors.__all__,
]

if TYPE_CHECKING:
    from ._sklearn import ChurnClassifier


def __getattr__(name: str) -> object:
    # ChurnClassifier needs scikit-learn, which `import retention` does not.
    if name == "ChurnClassifier":
        from ._sklearn import ChurnClassifier

        return ChurnClassifier
    raise AttributeError(f"module 'retention' has no attribute {name!r}")
