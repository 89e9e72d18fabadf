"""Frames on their way into the Rust core.

The core reads polars frames of numbers, booleans and text. pandas frames (and LazyFrames, and
dicts of columns) are converted here; other column types (categoricals, dates, decimals…) become
text or floats, which is how the core reads them from a CSV file anyway.
"""

from __future__ import annotations

from typing import Any

import polars as pl

_NATIVE = {
    pl.Int32, pl.Int64, pl.UInt32, pl.UInt64,
    pl.Float32, pl.Float64, pl.Boolean, pl.String,
}
# Whole numbers the core's build does not carry: widened without loss (a pandas frame of
# downcast integers, a polars Int8 flag).
_SMALL_INTS = {pl.Int8, pl.Int16, pl.UInt8, pl.UInt16}


def kind(dtype: pl.DataType) -> str:
    """What the core's column check calls a dtype: number, text, boolean or the type's name."""
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Null:
        # A column of missing values only (one customer built from a dict with None): as a
        # blank column of a file.
        return "text"
    if dtype.is_numeric():
        return "number"
    if dtype in (pl.String, pl.Binary, pl.Categorical, pl.Enum) or dtype.base_type() in (pl.Categorical, pl.Enum):
        # Each becomes text below, as training reads it: scoring the same frame must not be
        # refused for the type training accepted.
        return "text"
    return str(dtype).lower()


def to_polars(obj: Any) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """``obj`` as a polars DataFrame of column types the core reads, and each column's kind as
    it was given (for the core's column check)."""
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    if not isinstance(obj, pl.DataFrame):
        module = type(obj).__module__ or ""
        if module.startswith("pandas"):
            if type(obj).__name__ == "Series":
                obj = obj.to_frame()
            obj = pl.from_pandas(obj)
        elif isinstance(obj, dict):
            obj = pl.DataFrame(obj)
        else:
            raise TypeError(
                f"expected a polars or pandas DataFrame, got {type(obj).__module__}.{type(obj).__name__}"
            )
    kinds = [(name, kind(dtype)) for name, dtype in obj.schema.items()]
    casts = []
    for name, dtype in obj.schema.items():
        base = dtype.base_type()
        if base in _NATIVE:
            continue
        if base in _SMALL_INTS:
            casts.append(pl.col(name).cast(pl.Int32))
        elif dtype.is_numeric():
            casts.append(pl.col(name).cast(pl.Float64))
        else:
            casts.append(pl.col(name).cast(pl.String))
    if casts:
        try:
            obj = obj.with_columns(casts)
        except pl.exceptions.PolarsError:
            # Name the column polars cannot turn into numbers or text (durations, lists…).
            for cast, (name, dtype) in zip(casts, [(n, d) for n, d in obj.schema.items() if d.base_type() not in _NATIVE]):
                try:
                    obj.select(cast)
                except pl.exceptions.PolarsError:
                    from .errors import SchemaMismatchError

                    err = SchemaMismatchError(
                        f"column '{name}' holds {dtype} values, which are neither numbers nor text: "
                        "convert it (a duration to a number of days, a list to one column per item) or drop it"
                    )
                    err.column = name
                    raise err from None
            raise
    return obj, kinds
