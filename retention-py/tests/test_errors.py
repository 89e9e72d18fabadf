"""Every core error kind arrives as its own exception class, with the core's message."""

from __future__ import annotations

import os
import stat

import polars as pl
import pytest

import retention
from retention import errors


def test_hierarchy():
    for name in errors.__all__:
        cls = getattr(retention, name)
        if name != "RetentionWarning":
            assert issubclass(cls, retention.RetentionError), name
    assert issubclass(retention.ColumnNotFoundError, KeyError)
    assert issubclass(retention.InvalidValueError, ValueError)
    assert issubclass(retention.InvalidParameterError, ValueError)


def test_missing_column(model, telco):
    with pytest.raises(retention.ColumnNotFoundError) as e:
        model.score(telco.drop("tenure"))
    assert e.value.column == "tenure"
    assert "column 'tenure' not found" in str(e.value)
    assert "available columns" in str(e.value)


def test_invalid_value_names_column_row_and_value(model, telco):
    bad = telco.head(10).with_columns(
        pl.when(pl.int_range(pl.len()) == 6).then(pl.lit("abc")).otherwise(pl.col("tenure")).alias("tenure")
    )
    with pytest.raises(retention.InvalidValueError) as e:
        model.score(bad)
    assert (e.value.column, e.value.row, e.value.value) == ("tenure", 7, "abc")


def test_invalid_data(telco):
    one_class = telco.filter(pl.col("Churn") == "No").head(100)
    with pytest.raises(retention.InvalidDataError, match="Churn"):
        retention.train(one_class, target="Churn", id="customerID", algorithm="logistic")


def test_invalid_parameters(telco):
    with pytest.raises(retention.InvalidParameterError) as e:
        retention.train(telco, target="Churn", cv=1)
    assert e.value.name == "cv"
    with pytest.raises(retention.InvalidParameterError, match="unknown option"):
        retention.train(telco, target="Churn", folds=3)
    with pytest.raises(retention.InvalidParameterError, match="xgboost"):
        retention.train(telco, target="Churn", algorithm="xgboost")
    with pytest.raises(retention.InvalidParameterError, match="calibration"):
        retention.train(telco, target="Churn", calibration="beta")
    with pytest.raises(retention.InvalidParameterError, match="bins"):
        retention.drift(telco, telco, bins=1)
    with pytest.raises(retention.InvalidParameterError, match="psi_wran"):
        retention.drift(telco, telco, thresholds={"psi_wran": 0.2})


def test_files(tmp_path, model):
    with pytest.raises(FileNotFoundError) as e:
        retention.ChurnModel.load(tmp_path / "missing.model")
    assert "missing.model" in str(e.value)
    with pytest.raises(FileNotFoundError):
        retention.read_table(tmp_path / "missing.csv")
    # Writing where the process may not (sysfs refuses even root): the same class as Python's own.
    target = "/sys/retention-test.model"
    try:
        open(target + ".probe", "w").close()
        pytest.skip("this machine lets the process write to /sys")
    except OSError as own:
        expected = type(own)
    with pytest.raises(expected) as e:
        model.save(target)
    assert "retention-test.model" in str(e.value)


def test_unreadable_file_is_a_permission_error(tmp_path, model):
    if os.geteuid() == 0:
        pytest.skip("root reads any file; covered by the /proc case above")
    path = tmp_path / "m.model"
    model.save(path)
    path.chmod(0)
    with pytest.raises(PermissionError):
        retention.ChurnModel.load(path)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_corrupt_and_newer_model_files(tmp_path, model):
    path = tmp_path / "m.model"
    model.save(path)
    text = path.read_text()
    path.write_text(text.replace('"threshold":0.5', '"threshold":0.4'))
    with pytest.raises(retention.CorruptModelError, match="checksum"):
        retention.ChurnModel.load(path)
    path.write_text('{"format":"retentionai-model","format_version":99,"sha256":"x","model":{}}')
    with pytest.raises(retention.UnsupportedFormatError, match="upgrade"):
        retention.ChurnModel.load(path)


def test_malformed_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(retention.MalformedFileError, match="broken.parquet"):
        retention.read_table(path)
    csv = tmp_path / "ragged.csv"
    csv.write_text("a,b\n1,2\n3\n")
    with pytest.raises(retention.MalformedFileError, match="ragged.csv"):
        retention.read_table(csv)


def test_feature_spec(tmp_path, telco):
    spec = tmp_path / "features.toml"
    spec.write_text('[[feature]]\nname = "x"\nkind = "ratio"\nnumerator = "nope"\ndenominator = "tenure"\n')
    with pytest.raises(retention.FeatureSpecError, match="column 'nope'"):
        retention.train(telco, target="Churn", algorithm="logistic", cv=0, features=spec)


def test_registry_and_store(tmp_path, model):
    store = retention.Store(tmp_path / "ops.db")
    with pytest.raises(retention.RegistryError, match="no champion"):
        store.load_model("champion")
    v = store.register(model)
    with pytest.raises(retention.RegistryError, match="refused"):
        store.promote(v)
    with pytest.raises(retention.RegistryError, match="not a version"):
        store.load_model("latest")
    with pytest.raises(retention.StoreError):
        store.load_model(99)
    not_a_db = tmp_path / "not.db"
    not_a_db.write_text("hello, this is text and not SQLite at all " * 100)
    with pytest.raises(retention.StoreError):
        retention.Store(not_a_db)
