"""The notebook-style example runs from start to end (so it cannot rot)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_notebook_example_runs(tmp_path):
    env = {**os.environ, "RETENTION_EXAMPLE_OUT": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "notebook.py")],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "cross-validated ROC-AUC 0.8" in out
    assert "folds done" in out
    assert "alert" in out or "warn" in out
    assert (tmp_path / "telco.model").exists()
    assert "holdout ROC-AUC 0.8" in out
    # The figures (matplotlib and shap are in the test environment).
    for figure in ("quality.png", "explanations.png", "shap_beeswarm.png"):
        path = tmp_path / figure
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000, figure
