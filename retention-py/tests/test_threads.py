"""The GIL is released while the core works: other Python threads run during a call."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl

import retention


def big(telco: pl.DataFrame, times: int) -> pl.DataFrame:
    return pl.concat(
        telco.with_columns(pl.col("customerID") + f"-{i}") for i in range(times)
    )


def test_two_threads_score_at_once_with_the_same_results(model, telco):
    frame = big(telco, 20)  # 140,860 rows
    expected = model.score(frame)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(model.score, [frame, frame]))
    for r in results:
        assert r.equals(expected)


def test_another_thread_runs_python_while_a_score_is_in_rust(model, telco):
    """With a switch interval far longer than the test, a thread can take the GIL only when its
    holder releases it: the counter moves during the call only if `score` released the GIL."""
    frame = big(telco, 30)
    counter = 0
    stop = threading.Event()
    go = threading.Event()

    def count():
        nonlocal counter
        go.wait()
        while not stop.is_set():
            counter += 1
            time.sleep(0)  # hands the GIL back at once

    worker = threading.Thread(target=count)
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        worker.start()
        go.set()
        before = counter
        model.score(frame)
        during = counter - before
    finally:
        stop.set()
        sys.setswitchinterval(old)
        worker.join()
    assert during > 0


def test_the_gil_is_released_in_training_drift_and_the_store(telco, tmp_path):
    """The same check around train, drift and a database call."""
    model_box: list[retention.ChurnModel] = []
    store = retention.Store(tmp_path / "ops.db")
    calls = {
        "train": lambda: model_box.append(
            retention.train(telco, target="Churn", id="customerID", algorithm="logistic", cv=2)
        ),
        "drift": lambda: retention.drift(telco, telco, target="Churn", id="customerID"),
        "store": lambda: store.backup(tmp_path / "backups"),
    }
    for name, call in calls.items():
        counter = 0
        stop = threading.Event()

        def count():
            nonlocal counter
            while not stop.is_set():
                counter += 1
                time.sleep(0)

        worker = threading.Thread(target=count)
        old = sys.getswitchinterval()
        sys.setswitchinterval(100.0)
        try:
            worker.start()
            before = counter
            call()
            during = counter - before
        finally:
            stop.set()
            sys.setswitchinterval(old)
            worker.join()
        assert during > 0, name
