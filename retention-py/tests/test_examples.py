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
