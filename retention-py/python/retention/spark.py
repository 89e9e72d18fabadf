"""RetentionAI on Spark: scoring, explanations and drift of tables larger than one machine, by
the same core and the same model file as the CLI.

Scoring and explanations run in the executors through ``DataFrame.mapInArrow``: each Arrow
batch becomes a polars frame (numeric buffers shared, text as polars' string views), the core
scores it, and Arrow goes back. The model travels once per executor as a broadcast of its
file's bytes and is kept by each Python worker, never re-read per batch. Drift is computed from mergeable summaries: each partition
summarises its rows (level counts, bin-ready distinct values, blanks, the model's
probabilities), the driver merges them and builds the same ``DriftReport`` as
``retention.drift``.

Columns and types are checked on the driver against the model before any executor work: a
missing column or a numeric input of another type raises the same error as local scoring.

>>> from pyspark.sql import SparkSession
>>> import retention, retention.spark
>>> spark = SparkSession.builder.master("local[2]").getOrCreate()
>>> customers = spark.read.csv("customers/*.csv", header=True)
>>> model = retention.ChurnModel.load("churn.model")
>>> retention.spark.score(customers, model).write.parquet("scores/")
>>> retention.spark.drift(last_month, customers, model=model).status
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from . import _retention
from ._frames import to_polars
from ._retention import ChurnModel, DriftReport

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql.types import DataType, StructType

__all__ = ["column_kinds", "drift", "explain", "score"]

#: Rows a partition's drift summary keeps per numeric column before merging neighbours
#: (see ``DriftReport`` ``ks_error_bound``).
DEFAULT_CAPACITY = 1 << 20

# Deserialised models, per Python worker process: SHA-256 of the model file → model.
_MODELS: dict[str, ChurnModel] = {}


def kind(dtype: DataType) -> str:
    """The core's kind of a Spark type: number, text, boolean, or the type's name."""
    from pyspark.sql import types as T

    if isinstance(dtype, T.BooleanType):
        return "boolean"
    if isinstance(dtype, T.NumericType):
        return "number"
    if isinstance(dtype, (T.StringType, T.VarcharType, T.CharType)):
        return "text"
    return dtype.simpleString()


def column_kinds(schema: StructType) -> list[tuple[str, str]]:
    """(name, kind) of every column of a Spark schema, for ``ChurnModel.check_columns``."""
    return [(f.name, kind(f.dataType)) for f in schema.fields]


def _model_columns(df: SparkFrame, model: ChurnModel, keep: Sequence[str] = ()) -> list[str]:
    """The columns the model reads (its id and inputs) and the ``keep`` ones, in the frame's
    order: the rest of a wide table never crosses to the Python workers (Arrow transfer is
    most of the cost of scoring on Spark)."""
    roles = model.schema
    return [c for c in df.columns if roles.get(c) in ("id", "numeric", "categorical") or c in keep]


def _to_workers(df: SparkFrame, columns: Sequence[str]) -> tuple[SparkFrame, list[str] | None]:
    """``df`` with only ``columns``, ready for ``mapInArrow``, and the names the workers give
    the columns back (``None``: unchanged). ``mapInArrow`` resolves its input columns by name,
    where a dot means a struct field: such names cross under placeholders."""
    from pyspark.sql import functions as F

    def quoted(c: str) -> Any:
        return F.col("`" + c.replace("`", "``") + "`")

    awkward = any("." in c or "`" in c for c in columns)
    if not awkward:
        if list(columns) == df.columns:
            return df, None
        return df.select(*[quoted(c) for c in columns]), None
    return df.select(*[quoted(c).alias(f"_retention_{i}") for i, c in enumerate(columns)]), list(columns)


def _from_spark(batch: pa.RecordBatch, names: list[str] | None) -> pl.DataFrame:
    """A batch in a worker as the polars frame local code would get (real column names)."""
    frame, _ = to_polars(pl.from_arrow(batch))
    if names is not None:
        frame.columns = names
    return frame


def _ship(df: SparkFrame, model: ChurnModel) -> tuple[Any, str]:
    """The model's file bytes as a broadcast (sent once per executor) and their checksum."""
    data = model.to_bytes()
    return df.sparkSession.sparkContext.broadcast(data), hashlib.sha256(data).hexdigest()


def _model(shipped: tuple[Any, str]) -> ChurnModel:
    """The shipped model, deserialised once per Python worker and kept."""
    broadcast, key = shipped
    model = _MODELS.get(key)
    if model is None:
        model = ChurnModel.from_bytes(broadcast.value)
        _MODELS[key] = model
    return model


def _id_column(model: ChurnModel) -> str:
    ids = [c for c, role in model.schema.items() if role == "id"]
    if not ids:
        from .errors import InvalidParameterError

        err = InvalidParameterError(
            "invalid parameter 'model': Spark scoring needs a model with an id column "
            "(row numbers restart in every partition); retrain it with id=…"
        )
        err.name = "model"
        raise err
    return ids[0]


def _arrow_schema(schema: StructType) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)


def _through_model(
    shipped: tuple[Any, str], arrow_schema: pa.Schema, apply: Any, names: list[str] | None
) -> Any:
    """The function mapInArrow runs in the executors: each Arrow batch as a polars frame through
    `apply(model, frame)`, the result back as Arrow of the declared schema."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = _model(shipped)
        for batch in batches:
            if batch.num_rows:
                frame = _from_spark(batch, names)
                yield from apply(model, frame).to_arrow().cast(arrow_schema).to_batches()

    return run


def score(
    df: SparkFrame,
    model: ChurnModel,
    keep: Sequence[str] = (),
) -> SparkFrame:
    """Scores a Spark DataFrame: the id, ``churn_probability``, ``churn_prediction``,
    ``risk_tier``, then the ``keep`` columns, one row per input row — the same values as
    ``retention score`` on the same rows.

    Columns and types are checked on the driver first (``ColumnNotFoundError``,
    ``SchemaMismatchError``, as locally). Batches are Spark's Arrow batches
    (``spark.sql.execution.arrow.maxRecordsPerBatch``, 10,000 rows by default).
    """
    from pyspark.sql import types as T

    id_column = _id_column(model)
    model.check_columns(column_kinds(df.schema), need_id=True)
    names = df.columns
    for name in keep:
        if name not in names:
            from .errors import ColumnNotFoundError

            err = ColumnNotFoundError(
                f"column '{name}' not found (asked for by keep); available columns: {', '.join(names)}"
            )
            err.column = name
            raise err
    fields = [
        T.StructField(id_column, T.StringType()),
        T.StructField("churn_probability", T.DoubleType()),
        T.StructField("churn_prediction", T.IntegerType()),
        T.StructField("risk_tier", T.StringType()),
    ]
    kept = [name for name in keep if name not in {f.name for f in fields}]
    fields += [df.schema[name] for name in kept]
    out_schema = T.StructType(fields)
    arrow_schema = _arrow_schema(out_schema)
    keep_list = list(kept)
    shipped, names = _to_workers(df, _model_columns(df, model, keep_list))
    run = _through_model(
        _ship(df, model), arrow_schema, lambda m, frame: m.score(frame, keep=keep_list), names
    )
    return shipped.mapInArrow(run, out_schema)


def explain(df: SparkFrame, model: ChurnModel, top: int = 3) -> SparkFrame:
    """Each row's probability and its ``top`` reasons, as ``ChurnModel.explain`` (``id``,
    ``churn_probability``, ``reason_k``, ``contribution_k``), computed in the executors."""
    from pyspark.sql import types as T

    _id_column(model)
    model.check_columns(column_kinds(df.schema), need_id=True)
    fields = [T.StructField("id", T.StringType()), T.StructField("churn_probability", T.DoubleType())]
    for k in range(1, top + 1):
        fields += [
            T.StructField(f"reason_{k}", T.StringType()),
            T.StructField(f"contribution_{k}", T.DoubleType()),
        ]
    out_schema = T.StructType(fields)
    arrow_schema = _arrow_schema(out_schema)
    shipped, names = _to_workers(df, _model_columns(df, model))
    run = _through_model(
        _ship(df, model), arrow_schema, lambda m, frame: m.explain(frame, top=top), names
    )
    return shipped.mapInArrow(run, out_schema)


def _summaries(df: SparkFrame, plan: str, model: ChurnModel | None, capacity: int) -> bytes:
    """Each partition's summary, merged on the driver."""
    from pyspark.sql import types as T

    shipped = _ship(df, model) if model is not None else None
    out_schema = T.StructType([T.StructField("summary", T.BinaryType())])
    frame_in, names = _to_workers(df, df.columns)

    def summarise(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        m = _model(shipped) if shipped is not None else None
        parts = []
        for batch in batches:
            if batch.num_rows:
                frame = _from_spark(batch, names)
                parts.append(_retention.drift_summary(frame, plan, m, capacity))
        if parts:
            merged = _retention.drift_merge(parts)
            yield pa.RecordBatch.from_arrays([pa.array([merged], pa.binary())], ["summary"])

    rows = frame_in.mapInArrow(summarise, out_schema).collect()
    return _retention.drift_merge([r["summary"] for r in rows])


def drift(
    reference: SparkFrame,
    current: SparkFrame,
    model: ChurnModel | None = None,
    *,
    bins: int = 10,
    thresholds: dict[str, float] | None = None,
    target: str | None = None,
    id: str | None = None,
    capacity: int = DEFAULT_CAPACITY,
) -> DriftReport:
    """``retention.drift`` on Spark DataFrames: the same report, from partition summaries merged
    on the driver. Counts (PSI, chi-square, Jensen-Shannon, missing rates, tiers) are exact;
    numeric values are exact up to ``capacity`` distinct values per column, past which the
    report gives each KS statistic's error bound (``ks_error_bound``).

    Without a model, roles are inferred from the reference's first 20,000 rows (locally: an
    even sample of them), so pass the model to compare exactly what it reads.
    """
    if model is not None:
        model.check_columns(column_kinds(reference.schema), need_id=False)
        model.check_columns(column_kinds(current.schema), need_id=False)
        plan = _retention.drift_plan(reference.columns, current.columns, model)
    else:
        sample, _ = to_polars(pl.from_arrow(reference.limit(20_000).toArrow()))
        plan = _retention.drift_plan(
            reference.columns, current.columns, None, sample, target=target, id=id
        )
    r = _summaries(reference, plan, model, capacity)
    c = _summaries(current, plan, model, capacity)
    return _retention.drift_from_summaries(plan, r, c, model, bins=bins, thresholds=thresholds)
