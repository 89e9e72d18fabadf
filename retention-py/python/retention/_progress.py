"""Progress of long work in Python: the steps `retention.train` reports, and the tqdm bar shown
by default in a notebook.

A ``progress`` callback receives each step as a :class:`Step`: the line of text it always
received (a ``str``), with the step's numbers as attributes (``stage``, ``done``, ``total``).
Without a callback, a notebook with tqdm installed shows a bar; anywhere else nothing is shown.
"""

from __future__ import annotations

from typing import Any


class Step(str):
    """One step of training, as text ("cross-validation: 3/5 folds done") with its numbers:
    ``stage`` (``"folds"`` or ``"final_fit"``), ``done`` and ``total`` (folds; ``None`` for the
    final fit)."""

    stage: str
    done: int | None
    total: int | None

    def __new__(cls, line: str, stage: str, done: int | None, total: int | None) -> "Step":
        step = super().__new__(cls, line)
        step.stage, step.done, step.total = stage, done, total
        return step


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where a tqdm bar renders as a widget)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Bar:
    """A tqdm bar fed by training steps: the folds as they finish, then the final fit."""

    def __init__(self) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=None, desc="training", unit="fold")

    def __call__(self, step: Any) -> None:
        if getattr(step, "stage", None) == "folds" and step.total:
            self._bar.total = step.total
            self._bar.n = step.done
            self._bar.set_description("cross-validation")
        else:
            self._bar.set_description("fitting the final model")
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def default() -> Bar | None:
    """The progress `retention.train` shows when given no callback: a tqdm bar in a notebook
    with tqdm installed, else none."""
    if not in_notebook():
        return None
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return None
    return Bar()
