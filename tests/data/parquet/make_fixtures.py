"""Writes the small Parquet fixtures of tests/it/parquet_inputs.rs (types the Rust polars build
cannot write: decimals, dates, times, durations, small integers, dictionaries, maps, lists and
structs). Deterministic; run from this folder with pyarrow installed:

    python3 -m venv /tmp/pa && /tmp/pa/bin/pip install pyarrow
    /tmp/pa/bin/python make_fixtures.py
"""

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 120


def churned(i):
    # Short tenure and the basic plan churn more; a few exceptions keep both classes mixed.
    return (i % 7 < 3) != (i % 11 == 0)


def base_columns():
    """The columns a model trained on types.parquet uses, typed as ordinary Parquet writers do."""
    plans = ["basic", "plus", "pro"]
    return {
        "customerID": pa.array([f"C{i:04d}" for i in range(ROWS)], pa.string()),
        "tenure": pa.array([(i * 37) % 72 - (30 if churned(i) else 0) for i in range(ROWS)], pa.int8()),
        "visits": pa.array([(i * 13) % 400 for i in range(ROWS)], pa.uint16()),
        "charges": pa.array(
            [decimal.Decimal(f"{20 + (i * 7919) % 9000 / 100:.2f}") for i in range(ROWS)],
            pa.decimal128(8, 2),
        ),
        "plan": pa.array([plans[(i + (2 if churned(i) else 0)) % 3] for i in range(ROWS)]).dictionary_encode(),
        "senior": pa.array([i % 5 == 0 for i in range(ROWS)], pa.bool_()),
    }


def extra_columns():
    """Columns of every other kind; a model trained on the file ignores or does not use them."""
    epoch = dt.datetime(2024, 1, 31, 12, 0, 0)
    return {
        "i16": pa.array([i - 60 for i in range(ROWS)], pa.int16()),
        "u8": pa.array([i % 200 for i in range(ROWS)], pa.uint8()),
        "u32": pa.array([i * 1000 for i in range(ROWS)], pa.uint32()),
        "u64": pa.array([i * 10**12 for i in range(ROWS)], pa.uint64()),
        "half": pa.array([float(i % 8) / 2 for i in range(ROWS)], pa.float16()),
        "ratio": pa.array([float(i) / 3 for i in range(ROWS)], pa.float32()),
        "note": pa.array([f"note {i % 4}" for i in range(ROWS)], pa.large_string()),
        "big": pa.array([decimal.Decimal(f"{i}.125") for i in range(ROWS)], pa.decimal256(40, 3)),
        "signup": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=9 * i) for i in range(ROWS)], pa.date32()),
        "last_seen": pa.array(
            [epoch + dt.timedelta(hours=i, milliseconds=250 * (i % 4)) for i in range(ROWS)],
            pa.timestamp("ms", tz="UTC"),
        ),
        "local_seen": pa.array([epoch + dt.timedelta(minutes=i) for i in range(ROWS)], pa.timestamp("us")),
        "call_time": pa.array([dt.time(9, i % 60, 30) for i in range(ROWS)], pa.time64("us")),
        "alarm": pa.array([dt.time(7, 30, i % 60) for i in range(ROWS)], pa.time32("ms")),
        "since_login": pa.array([dt.timedelta(seconds=90 * i) for i in range(ROWS)], pa.duration("s")),
        "tags": pa.array([[("a", i), ("b", i % 3)] for i in range(ROWS)], pa.map_(pa.string(), pa.int32())),
        "items": pa.array(
            [[{"sku": f"s{i % 5}", "qty": i % 3}] for i in range(ROWS)],
            pa.list_(pa.struct([("sku", pa.string()), ("qty", pa.int32())])),
        ),
        "address": pa.array(
            [{"city": f"city {i % 4}", "zip": f"{10000 + i}"} for i in range(ROWS)],
            pa.struct([("city", pa.string()), ("zip", pa.string())]),
        ),
        "scores": pa.array([[i, i + 1] for i in range(ROWS)], pa.list_(pa.int64())),
        "raw": pa.array([f"raw {i % 6}".encode() for i in range(ROWS)], pa.binary()),
        "uuid": pa.array([bytes([i % 256] * 16) for i in range(ROWS)], pa.binary(16)),
        "Churn": pa.array(["Yes" if churned(i) else "No" for i in range(ROWS)], pa.string()),
    }


def write(name, columns):
    pq.write_table(
        pa.table(columns), name, compression="zstd", row_group_size=80, write_statistics=False
    )


def main():
    write("types.parquet", {**base_columns(), **extra_columns()})
    # The model's categorical input `plan` as a list of structs, its numeric input `tenure` as dates.
    nested = base_columns()
    nested["plan"] = pa.array(
        [[{"name": "basic", "since": i}] for i in range(ROWS)],
        pa.list_(pa.struct([("name", pa.string()), ("since", pa.int32())])),
    )
    write("nested_plan.parquet", nested)
    dated = base_columns()
    dated["tenure"] = pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(ROWS)], pa.date32())
    write("dated_tenure.parquet", dated)


if __name__ == "__main__":
    main()
