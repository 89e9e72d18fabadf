"""Times `ChurnModel.score` from Python on a 1M-row frame in memory and compares it with
criterion's estimate for the same scoring in Rust (see python_vs_rust.sh).

Usage: python_scoring.py CUSTOMERS_CSV CRITERION_ESTIMATES_JSON
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import retention

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    customers_csv, estimates = sys.argv[1:3]
    telco = retention.read_table(ROOT / "data" / "telco_customer_churn.csv")
    # The bench's model: logistic regression, no cross-validation, trained on the Telco table.
    model = retention.train(telco, target="Churn", id="customerID", algorithm="logistic", cv=0)
    frame = retention.read_table(customers_csv)
    assert frame.height == 1_000_000, frame.height
    model.score(frame)  # warm-up
    times = []
    for _ in range(10):
        start = time.perf_counter()
        scores = model.score(frame)
        times.append(time.perf_counter() - start)
    assert scores.height == frame.height
    python = statistics.median(times)
    rust = json.loads(Path(estimates).read_text())["median"]["point_estimate"] / 1e9
    print(f"rows                  {frame.height:>12,}")
    print(f"Rust  score_frame     {rust:>12.3f} s  (criterion median)")
    print(f"Python model.score    {python:>12.3f} s  (median of 10; min {min(times):.3f}, max {max(times):.3f})")
    print(f"Python / Rust         {python / rust:>12.3f}")


if __name__ == "__main__":
    main()
