"""Times `retention score` and `retention.spark.score` on the same CSV (see spark_vs_cli.sh).

Usage: spark_scoring.py RETENTION_BIN WORK_DIR   (WORK_DIR holds customers.csv and model.json)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def best_of(n: int, run) -> tuple[float, list[float]]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times), times


def main() -> None:
    bin_, work = sys.argv[1], Path(sys.argv[2])
    customers, model_path = work / "customers.csv", work / "model.json"
    rows = sum(1 for _ in open(customers)) - 1

    cli_best, cli_times = best_of(3, lambda: subprocess.run(
        [bin_, "score", "--model", str(model_path), "--data", str(customers),
         "--out", str(work / "cli.csv")], check=True, capture_output=True))

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    import retention
    import retention.spark as rspark

    spark = (SparkSession.builder.master("local[2]").appName("retention-bench")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.memory", "4g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    model = retention.ChurnModel.load(model_path)

    def spark_run() -> None:
        frame = spark.read.csv(str(customers), header=True)
        rspark.score(frame, model).write.mode("overwrite").csv(str(work / "spark_out"), header=True)

    spark_best, spark_times = best_of(3, spark_run)
    written = spark.read.csv(str(work / "spark_out"), header=True).count()
    assert written == rows, (written, rows)
    spark.stop()

    print(f"rows                          {rows:>12,}")
    print(f"retention score (CSV -> CSV)  {cli_best:>9.2f} s  {rows / cli_best:>12,.0f} rows/s  "
          f"(runs {', '.join(f'{t:.2f}' for t in cli_times)})")
    print(f"Spark local[2] (CSV -> CSV)   {spark_best:>9.2f} s  {rows / spark_best:>12,.0f} rows/s  "
          f"(runs {', '.join(f'{t:.2f}' for t in spark_times)})")
    print(f"Spark / CLI time              {spark_best / cli_best:>9.2f}")


if __name__ == "__main__":
    main()
