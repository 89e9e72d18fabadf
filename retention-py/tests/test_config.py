"""retention.settings(): the app's settings from keyword arguments, RETENTIONAI_* variables, the
configuration file and the defaults, in that order; a bad file is a ConfigError naming the key."""

from __future__ import annotations

import pytest

import retention


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("RETENTIONAI_CONFIG", "RETENTIONAI_DATA", "RETENTIONAI_MODEL", "RETENTIONAI_DB",
                 "RETENTION_DATA", "RETENTION_MODEL", "RETENTION_DB"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_environment_file_and_arguments(monkeypatch, tmp_path):
    s = retention.settings()
    assert s["data"] == ("data/telco_customer_churn.csv", "default")
    assert s["model"] == (None, "default")
    assert s["db"] == ("data/retentionai.db", "default")

    config = tmp_path / "c.toml"
    config.write_text('db = "file.db"\n[app]\ndata = "file.csv"\nmodel = "m.json"\n[serve]\nport = 1\n')
    s = retention.settings(config)
    assert s["data"] == ("file.csv", f"file {config}")
    assert s["db"] == ("file.db", f"file {config}")

    monkeypatch.setenv("RETENTIONAI_CONFIG", str(config))
    monkeypatch.setenv("RETENTIONAI_DATA", "env.csv")
    s = retention.settings()
    assert s["data"] == ("env.csv", "env RETENTIONAI_DATA")
    assert s["model"] == ("m.json", f"file {config}")

    s = retention.settings(data="given.csv")
    assert s["data"] == ("given.csv", "argument")

    # The previous release's name still works.
    monkeypatch.delenv("RETENTIONAI_DATA")
    monkeypatch.setenv("RETENTION_DATA", "old.csv")
    assert retention.settings()["data"] == ("old.csv", "env RETENTION_DATA")


def test_a_bad_file_or_argument_is_refused_by_name(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[app]\ndatta = "x.csv"\n')
    with pytest.raises(retention.ConfigError) as e:
        retention.settings(config)
    assert e.value.key == "app.datta"
    assert "app.data" in str(e.value)
    config.write_text("[app\n")
    with pytest.raises(retention.ConfigError):
        retention.settings(config)
    with pytest.raises(FileNotFoundError):
        retention.settings(tmp_path / "missing.toml")
    with pytest.raises(retention.InvalidParameterError, match="port"):
        retention.settings(port="1")
