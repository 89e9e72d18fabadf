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

    # Where Spark's time goes: the JVM alone reading the CSV and writing four columns, then the
    # same with every batch sent to a Python worker as Arrow and back unchanged (no scoring).
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def jvm_only() -> None:
        frame = spark.read.csv(str(customers), header=True)
        frame.select("customerID", F.lit(0.5).alias("churn_probability"),
                     F.lit(0).alias("churn_prediction"), F.lit("Low").alias("risk_tier")) \
            .write.mode("overwrite").csv(str(work / "floor_out"), header=True)

    passthrough_schema = T.StructType([T.StructField("customerID", T.StringType()),
                                       T.StructField("tenure", T.StringType()),
                                       T.StructField("Contract", T.StringType()),
                                       T.StructField("MonthlyCharges", T.StringType())])

    def arrow_round_trip() -> None:
        frame = spark.read.csv(str(customers), header=True)

        def identity(batches):
            for b in batches:
                yield b.select(["customerID", "tenure", "Contract", "MonthlyCharges"])

        frame.mapInArrow(identity, passthrough_schema) \
            .write.mode("overwrite").csv(str(work / "arrow_out"), header=True)

    floor_best, floor_times = best_of(3, jvm_only)
    arrow_best, arrow_times = best_of(3, arrow_round_trip)
    spark.stop()

    print(f"rows                          {rows:>12,}")
    print(f"retention score (CSV -> CSV)  {cli_best:>9.2f} s  {rows / cli_best:>12,.0f} rows/s  "
          f"(runs {', '.join(f'{t:.2f}' for t in cli_times)})")
    print(f"Spark local[2] (CSV -> CSV)   {spark_best:>9.2f} s  {rows / spark_best:>12,.0f} rows/s  "
          f"(runs {', '.join(f'{t:.2f}' for t in spark_times)})")
    print(f"  Spark JVM only (read, write) {floor_best:>9.2f} s  (runs {', '.join(f'{t:.2f}' for t in floor_times)})")
    print(f"  + Arrow to Python and back  {arrow_best:>9.2f} s  (runs {', '.join(f'{t:.2f}' for t in arrow_times)})")
    print(f"Spark / CLI time              {spark_best / cli_best:>9.2f}")


if __name__ == "__main__":
    main()
