"""The timing scaffold both notebook-steps scripts share (not counted as notebook lines)."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager

RESULT: dict = {"steps": {}}


@contextmanager
def step(name: str):
    start = time.perf_counter()
    yield
    RESULT["steps"][name] = round(time.perf_counter() - start, 3)


def report(**figures) -> None:
    RESULT.update(figures)
    print(json.dumps(RESULT))
    sys.stdout.flush()
