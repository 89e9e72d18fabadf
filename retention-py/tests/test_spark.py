"""retention.spark in PySpark local mode (local[2]): scores equal the CLI's, drift equals local
drift, bad inputs fail on the driver before any Spark job."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest

import retention
import retention.spark as rspark

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    # Executors run this interpreter (the one with the module installed).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("retention-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        # Small Arrow batches: many batches per partition, one model per worker.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "4096")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def customers(cli, tmp_path_factory):
    """100,000 generated customers (the CLI's generator, seed 7)."""
    path = tmp_path_factory.mktemp("spark") / "customers.csv"
    subprocess.run([cli, "generate", "--rows", "100000", "--seed", "7", "--out", str(path)],
                   check=True, capture_output=True)
    return path


def test_spark_scores_equal_the_cli(spark, customers, boosting, cli, tmp_path):
    model_path = tmp_path / "churn.model"
    boosting.save(model_path)
    out = tmp_path / "scores.csv"
    subprocess.run([cli, "score", "--model", str(model_path), "--data", str(customers),
                    "--out", str(out), "--keep", "Contract"], check=True, capture_output=True)
    theirs = pl.read_csv(out, schema_overrides={"customerID": pl.String})

    model = retention.ChurnModel.load(model_path)
    frame = spark.read.csv(str(customers), header=True)  # every column as text, as the CLI reads
    scored = rspark.score(frame, model, keep=["Contract"])
    model_path.unlink()  # executors use the broadcast bytes, never the file
    ours = pl.from_arrow(scored.toArrow())
    assert ours.columns == ["customerID", "churn_probability", "churn_prediction", "risk_tier", "Contract"]
    assert ours.height == theirs.height == 100_000
    joined = theirs.join(ours, on="customerID", suffix="_spark")
    assert joined.height == 100_000
    diff = (joined["churn_probability"] - joined["churn_probability_spark"]).abs().max()
    assert diff <= 1e-12, diff
    assert (joined["churn_prediction"] == joined["churn_prediction_spark"]).all()
    assert (joined["risk_tier"] == joined["risk_tier_spark"]).all()
    assert (joined["Contract"] == joined["Contract_spark"]).all()


def test_spark_explain_equals_local(spark, customers, boosting):
    local = retention.read_table(customers).head(3000)
    frame = spark.createDataFrame(local.to_arrow())
    ours = pl.from_arrow(rspark.explain(frame, boosting, top=3).toArrow()).sort("id")
    expected = boosting.explain(local, top=3).sort("id")
    assert ours.equals(expected)


def shifted(cli, tmp_path, rows=50_000):
    path = tmp_path / "current.csv"
    subprocess.run([cli, "generate", "--rows", str(rows), "--seed", "8", "--out", str(path),
                    "--shift", "tenure=-6", "--shift", "Contract=Month-to-month:+0.15"],
                   check=True, capture_output=True)
    return path


def test_spark_drift_equals_local_drift(spark, telco_path, boosting, cli, tmp_path):
    current = shifted(cli, tmp_path)
    local = retention.drift(retention.read_table(telco_path), retention.read_table(current),
                            model=boosting).to_dict()
    reference = spark.read.csv(str(telco_path), header=True).repartition(3)
    ours = rspark.drift(reference, spark.read.csv(str(current), header=True), model=boosting).to_dict()
    assert local["verdict"]["status"] == "alert"
    # Every figure, count-based or not, is the same: the summaries are exact here.
    assert ours == local


def test_spark_drift_with_a_small_sketch_states_its_bound(spark, telco_path, boosting, cli, tmp_path):
    current = shifted(cli, tmp_path)
    local = retention.drift(retention.read_table(telco_path), retention.read_table(current),
                            model=boosting).to_dict()
    reference = spark.read.csv(str(telco_path), header=True).repartition(4)
    ours = rspark.drift(reference, spark.read.csv(str(current), header=True).repartition(4),
                        model=boosting, capacity=64).to_dict()
    by_name = {f["column"]: f for f in local["features"]}
    bounded = 0
    for f in ours["features"]:
        exact = by_name[f["column"]]
        # Counts stay exact whatever the sketch size.
        assert f["missing_reference"] == exact["missing_reference"]
        assert f["missing_current"] == exact["missing_current"]
        if f["kind"] == "categorical":
            for key in ("psi", "chi_square", "js_distance", "p_value", "bins"):
                assert f[key] == exact[key], (f["column"], key)
        elif "ks_error_bound" in f:
            bounded += 1
            assert abs(f["ks_statistic"] - exact["ks_statistic"]) <= f["ks_error_bound"]
    assert bounded >= 1  # MonthlyCharges and TotalCharges have more than 64 distinct values
    p, q = ours["prediction"], local["prediction"]
    assert abs(p["ks_statistic"] - q["ks_statistic"]) <= p["ks_error_bound"]
    assert p["tiers"] != [] and p["mean_current"] == pytest.approx(q["mean_current"], abs=1e-9)


def no_jobs_ran(spark, group):
    return spark.sparkContext.statusTracker().getJobIdsForGroup(group) == []


def test_bad_inputs_fail_on_the_driver_with_the_local_error(spark, telco, model):
    sc = spark.sparkContext
    frame = spark.createDataFrame(telco.head(100).to_arrow())
    sc.setJobGroup("bad-inputs", "must never run")
    try:
        with pytest.raises(retention.ColumnNotFoundError) as spark_error:
            rspark.score(frame.drop("tenure"), model)
        with pytest.raises(retention.ColumnNotFoundError) as local_error:
            model.score(telco.head(100).drop("tenure"))
        assert str(spark_error.value) == str(local_error.value)

        dated = frame.withColumn("tenure", F.to_date(F.lit("2026-01-01")))
        with pytest.raises(retention.SchemaMismatchError) as spark_error:
            rspark.score(dated, model)
        with pytest.raises(retention.SchemaMismatchError) as local_error:
            import datetime as dt
            model.score(telco.head(100).with_columns(pl.lit(dt.date(2026, 1, 1)).alias("tenure")))
        assert str(spark_error.value) == str(local_error.value)
        assert "tenure" in str(spark_error.value) and "date" in str(spark_error.value)

        with pytest.raises(retention.ColumnNotFoundError, match="customerID"):
            rspark.score(frame.drop("customerID"), model)
        with pytest.raises(retention.ColumnNotFoundError, match="Nope"):
            rspark.score(frame, model, keep=["Nope"])
        with pytest.raises(retention.ColumnNotFoundError, match="Contract"):
            rspark.drift(frame, frame.drop("Contract"), model=model)
        with pytest.raises(retention.ColumnNotFoundError, match="tenure"):
            rspark.explain(frame.drop("tenure"), model)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert no_jobs_ran(spark, "bad-inputs")


def test_a_model_without_an_id_is_refused(spark, telco):
    model = retention.train(telco.drop("customerID"), target="Churn", algorithm="logistic", cv=0)
    frame = spark.createDataFrame(telco.head(10).to_arrow())
    with pytest.raises(retention.InvalidParameterError, match="id column"):
        rspark.score(frame, model)


def shipped_columns(frame) -> list[str]:
    """The columns a mapInArrow result's plan sends to the Python workers."""
    output = frame._jdf.queryExecution().optimizedPlan().child().output()
    return [output.apply(i).name() for i in range(output.size())]


def test_only_the_models_columns_cross_to_python(spark, telco, model):
    """A wide table: the columns the model does not read (here one no Arrow model accepts)
    never reach the Python workers, unless kept, whatever their names."""
    local = telco.head(500)
    frame = spark.createDataFrame(local.to_arrow()).withColumn(
        "notes", F.array(F.lit("called twice"), F.col("Contract"))
    ).withColumn("region", F.lit("north"))
    reads = [c for c, role in model.schema.items() if role in ("id", "numeric", "categorical")]
    scored = rspark.score(frame, model, keep=["region"])
    assert sorted(shipped_columns(scored)) == sorted(reads + ["region"])
    ours = pl.from_arrow(scored.toArrow()).sort("customerID")
    expected = model.score(local, keep=[]).sort("customerID")
    assert ours.drop("region").equals(expected)
    assert ours["region"].unique().to_list() == ["north"]
    explained = rspark.explain(frame, model, top=2)
    assert sorted(shipped_columns(explained)) == sorted(reads)
    assert explained.count() == 500


def test_names_with_dots_cross_under_placeholders(spark, telco):
    """Spark reads `a.b` as a struct field; such columns, read by the model or kept, still
    score, explain and drift as locally."""
    local = telco.head(400).rename({"Contract": "plan.contract"}).with_columns(
        pl.lit("north").alias("region.name"))
    model = retention.train(local, target="Churn", id="customerID", algorithm="logistic", cv=0)
    frame = spark.createDataFrame(local.to_arrow())
    scored = pl.from_arrow(rspark.score(frame, model, keep=["region.name"]).toArrow()).sort("customerID")
    expected = model.score(local, keep=["region.name"]).sort("customerID")
    assert scored.columns == expected.columns
    assert (scored["churn_probability"] - expected["churn_probability"]).abs().max() <= 1e-12
    assert scored["region.name"].to_list() == expected["region.name"].to_list()
    explained = pl.from_arrow(rspark.explain(frame, model, top=1).toArrow()).sort("id")
    assert explained.equals(model.explain(local, top=1).sort("id"))
    report = rspark.drift(frame, frame, model=model)
    assert report.to_dict()["features"] == retention.drift(local, local, model=model).to_dict()["features"]
