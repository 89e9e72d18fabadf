"""Type stubs of the native module (``retention._retention``); see the docstrings at runtime."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

import polars as pl

FrameLike = Any  # polars.DataFrame | polars.LazyFrame | pandas.DataFrame | dict of columns
PathLike = str | os.PathLike[str]
Reference = int | str  # 3, "v3", "champion", "challenger"

__version__: str

class ChurnModel:
    def score(self, df: FrameLike, keep: Sequence[str] | None = None) -> pl.DataFrame: ...
    def explain(self, df: FrameLike, top: int = 3) -> pl.DataFrame: ...
    def curves(self, df: FrameLike) -> pl.DataFrame: ...
    def contributions(self, df: FrameLike) -> pl.DataFrame: ...
    def shap_explanation(self, df: FrameLike) -> Any: ...
    def what_if(
        self, df: FrameLike, changes: Mapping[str, Any], top: int = 3
    ) -> pl.DataFrame: ...
    def evaluate(self, df: FrameLike) -> dict[str, Any]: ...
    def importance(self, df: FrameLike) -> pl.DataFrame: ...
    def check_columns(self, columns: Sequence[tuple[str, str]], need_id: bool = True) -> None: ...
    def save(self, path: PathLike) -> None: ...
    @staticmethod
    def load(path: PathLike) -> ChurnModel: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> ChurnModel: ...
    @property
    def metrics(self) -> dict[str, Any]: ...
    @property
    def schema(self) -> dict[str, Literal["id", "target", "numeric", "categorical", "ignored"]]: ...
    @property
    def leaderboard(self) -> pl.DataFrame: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def threshold(self) -> float: ...
    @property
    def tiers(self) -> dict[str, float]: ...
    @property
    def provenance(self) -> dict[str, Any]: ...
    @property
    def notes(self) -> list[str]: ...

class DriftReport:
    @property
    def status(self) -> Literal["ok", "warn", "alert"]: ...
    @property
    def summary(self) -> str: ...
    @property
    def drifting(self) -> list[str]: ...
    @property
    def prediction(self) -> dict[str, Any] | None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def to_polars(self) -> pl.DataFrame: ...
    def bins(self, column: str) -> pl.DataFrame: ...

class Thresholds(TypedDict, total=False):
    psi_warn: float
    psi_alert: float
    p_value: float
    distance_warn: float
    drift_share: float

class Store:
    def __init__(self, path: PathLike, actor: str | None = None) -> None: ...
    @property
    def path(self) -> str: ...
    def register(self, model: ChurnModel, notes: str | None = None) -> int: ...
    def versions(self) -> pl.DataFrame: ...
    def aliases(self) -> dict[str, Any]: ...
    def load_model(self, reference: Reference = "champion") -> ChurnModel: ...
    def validate(
        self,
        reference: Reference,
        holdout: FrameLike,
        *,
        min_auc: float = 0.80,
        min_accuracy: float = 0.75,
        margin: float = 0.002,
    ) -> dict[str, Any]: ...
    def promote(
        self,
        reference: Reference | None = None,
        *,
        holdout: FrameLike | None = None,
        force: bool = False,
        reason: str | None = None,
        min_auc: float = 0.80,
        min_accuracy: float = 0.75,
        margin: float = 0.002,
    ) -> dict[str, Any]: ...
    def start_ab(
        self,
        challenger: Reference,
        split: float,
        *,
        force: bool = False,
        reason: str | None = None,
    ) -> dict[str, Any]: ...
    def stop_ab(self) -> None: ...
    def rollback(self, reason: str = "rollback") -> int: ...
    def promotions(self) -> list[dict[str, Any]]: ...
    def score(
        self,
        df: FrameLike,
        *,
        keep: Sequence[str] | None = None,
        log: bool = True,
        batch_id: str | None = None,
    ) -> pl.DataFrame: ...
    def compare(
        self,
        outcomes: FrameLike,
        *,
        target: str | None = None,
        id: str | None = None,
    ) -> list[dict[str, Any]]: ...
    def predictions(self, customer_id: str) -> list[dict[str, Any]]: ...
    def prediction_count(self) -> int: ...
    def check(self) -> dict[str, Any]: ...
    def backup(self, root: PathLike, keep: int = 7) -> dict[str, Any]: ...
    @staticmethod
    def verify_backup(folder: PathLike) -> dict[str, Any]: ...
    def gdpr_export(self, customer_id: str) -> dict[str, Any]: ...
    def gdpr_delete(self, customer_id: str) -> int: ...
    def create_api_key(self, name: str) -> str: ...
    def api_key_name(self, key: str) -> str | None: ...
    def audit(self, month: str = "") -> list[dict[str, Any]]: ...
    def cleanup(self, older_than: str, batch: int = 10000) -> int: ...
    def optimize(self) -> tuple[int, int]: ...

def train(
    df: FrameLike,
    target: str | None = None,
    id: str | None = None,
    algorithm: Literal["auto", "logistic", "tree", "boosting"] = "auto",
    *,
    select_by: Literal["log_loss", "roc_auc"] = "log_loss",
    calibration: Literal["platt", "isotonic", "none"] = "platt",
    cv: int = 5,
    test_size: float = 0.0,
    seed: int = 42,
    l2: float = 1.0,
    max_depth: int = 6,
    min_samples_leaf: int = 20,
    trees: int = 100,
    learning_rate: float = 0.1,
    max_leaves: int = 8,
    class_weight: Literal["none", "balanced"] = "none",
    threshold: float = 0.5,
    threshold_objective: Literal["fixed", "f1", "profit"] = "fixed",
    customer_value: float = 1200.0,
    offer_cost: float = 50.0,
    offer_success_rate: float = 0.7,
    tiers: tuple[float, float] = (0.3, 0.7),
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    ignore: Sequence[str] = (),
    positive_label: str | None = None,
    features: PathLike | None = None,
    progress: Callable[[str], object] | None = None,
) -> ChurnModel: ...
def drift(
    reference: FrameLike,
    current: FrameLike,
    model: ChurnModel | None = None,
    *,
    bins: int = 10,
    thresholds: Thresholds | None = None,
    target: str | None = None,
    id: str | None = None,
) -> DriftReport: ...
def read_table(path: PathLike) -> pl.DataFrame: ...

# The app's settings ("data", "model", "db") as (value, source): keyword > RETENTIONAI_<NAME>
# variable > configuration file (config, else RETENTIONAI_CONFIG) > default.
def settings(
    config: PathLike | None = None, **given: str
) -> dict[str, tuple[str | None, str]]: ...

# The core's defaults of the arguments above, by function ("train", "ChurnModel.explain"…).
def _defaults() -> dict[str, dict[str, Any]]: ...

# Drift from mergeable summaries (used by retention.spark).
def drift_plan(
    reference_columns: Sequence[str],
    current_columns: Sequence[str],
    model: ChurnModel | None = None,
    sample: FrameLike | None = None,
    target: str | None = None,
    id: str | None = None,
) -> str: ...
def drift_summary(
    df: FrameLike, plan: str, model: ChurnModel | None = None, capacity: int = 1048576
) -> bytes: ...
def drift_merge(parts: Sequence[bytes]) -> bytes: ...
def drift_from_summaries(
    plan: str,
    reference: bytes,
    current: bytes,
    model: ChurnModel | None = None,
    *,
    bins: int = 10,
    thresholds: Thresholds | None = None,
) -> DriftReport: ...
