"""Shared fixtures: the bundled Telco table and models trained on it once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest

import retention

ROOT = Path(__file__).resolve().parents[2]
TELCO = ROOT / "data" / "telco_customer_churn.csv"


@pytest.fixture(scope="session")
def telco_path() -> Path:
    return TELCO


@pytest.fixture(scope="session")
def telco() -> pl.DataFrame:
    """The table as the CLI reads it (every cell text, blanks missing)."""
    return retention.read_table(TELCO)


@pytest.fixture(scope="session")
def model(telco: pl.DataFrame) -> retention.ChurnModel:
    return retention.train(telco, target="Churn", id="customerID", algorithm="logistic", cv=3)


@pytest.fixture(scope="session")
def boosting(telco: pl.DataFrame) -> retention.ChurnModel:
    return retention.train(telco, target="Churn", id="customerID", algorithm="boosting", cv=0)


@pytest.fixture(scope="session")
def cli() -> str | None:
    """The `retention` binary of this build (set by .ci/run), for comparisons with the CLI."""
    path = os.environ.get("RETENTION_BIN") or shutil.which("retention")
    if path is None:
        pytest.skip("RETENTION_BIN is not set and `retention` is not on PATH")
    return path
