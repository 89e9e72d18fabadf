"""Reports as HTML: a drift report and a model's figures in a notebook (_repr_html_) and as one
standalone file, rendered in headless Chromium (a screenshot under out/screenshots/)."""

from __future__ import annotations

import os
import shutil
import subprocess

import polars as pl
import pytest

import retention
from conftest import ROOT

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SHOTS = ROOT / "out" / "screenshots"


@pytest.fixture(scope="module")
def report(model: retention.ChurnModel, telco: pl.DataFrame) -> retention.DriftReport:
    current = telco.tail(3000).with_columns(
        (pl.col("MonthlyCharges").cast(pl.Float64) * 1.3).cast(pl.String).alias("MonthlyCharges"),
        pl.lit("x").alias("<b>notes</b>"))  # a column named in HTML, new in the current table
    return retention.drift(telco.head(3000), current, model=model)


def test_the_drift_report_is_html_with_its_figures(report) -> None:
    page = report._repr_html_()
    assert "ALERT" in page and "MonthlyCharges" in page
    for row in report.to_dict()["features"]:
        assert f"<td>{row['column']}</td>" in page
    assert page.count("<img") >= 1 and "data:image/png;base64," in page
    # Text from the data is escaped: a name written as HTML stays text.
    assert "<b>notes</b>" not in page and "&lt;b&gt;notes&lt;/b&gt;" in page
    # p-values are written for people, never a run of zeros.
    assert "0.000</td><td class='num'>0.0%" not in page


def test_the_model_report_shows_the_cross_validated_figures(model) -> None:
    page = model._repr_html_()
    cv = model.metrics["cv"]["summary"]["roc_auc"]
    assert "Cross-validated" in page and f"{cv['mean']:.3f}" in page
    assert model.algorithm in page


def test_saved_reports_render_in_chromium(report, model, tmp_path) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, obj in (("drift_report", report), ("model_report", model)):
        path = obj.save_html(tmp_path / f"{name}.html")
        text = path.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and "http://" not in text and "https://" not in text
        shot = SHOTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        run = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", f"--screenshot={shot}", "--window-size=1200,1400",
             path.as_uri()],
            capture_output=True, text=True, timeout=120,
        )
        assert shot.exists(), run.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 30_000, name
    # A report is written whole or not at all: no temporary file left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drift_report.html", "model_report.html"]
