"""Training progress: a callback gets each step as text with its numbers; in a notebook with
tqdm and no callback, a bar shows the folds."""

from __future__ import annotations

import polars as pl
import pytest

import retention
from retention import _progress


def test_a_callback_gets_the_lines_it_always_got_with_their_numbers(telco: pl.DataFrame) -> None:
    steps = []
    retention.train(telco.head(1500), target="Churn", algorithm="logistic", cv=3, progress=steps.append)
    assert [str(s) for s in steps[:3]] == [f"cross-validation: {k}/3 folds done" for k in (1, 2, 3)]
    assert [(s.stage, s.done, s.total) for s in steps[:3]] == [("folds", k, 3) for k in (1, 2, 3)]
    assert steps[-1].stage == "final_fit" and steps[-1].startswith("fitting the final model")


def test_a_notebook_with_tqdm_shows_a_bar(telco: pl.DataFrame, monkeypatch, capsys) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    retention.train(telco.head(1500), target="Churn", algorithm="logistic", cv=4)
    shown = capsys.readouterr().err
    assert "4/4" in shown and "fold" in shown, shown[-500:]
    # An explicit progress=None means none, even there.
    retention.train(telco.head(1500), target="Churn", algorithm="logistic", cv=4, progress=None)
    assert "4/4" not in capsys.readouterr().err


def test_outside_a_notebook_nothing_is_shown(telco: pl.DataFrame, capsys) -> None:
    assert not _progress.in_notebook()
    retention.train(telco.head(1500), target="Churn", algorithm="logistic", cv=3)
    assert "fold" not in capsys.readouterr().err
