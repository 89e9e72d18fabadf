"""retention.telco and retention.generate: the bundled table and synthetic customers, the same
rows the CLI reads and writes."""

from __future__ import annotations

import subprocess

import polars as pl
import pytest

import retention


def test_telco_is_the_bundled_file(telco: pl.DataFrame):
    bundled = retention.telco()
    assert bundled.shape == (7043, 21)
    assert bundled.equals(telco)


def test_generate_gives_the_rows_the_cli_writes(cli, tmp_path):
    out = tmp_path / "g.csv"
    subprocess.run([cli, "generate", "--rows", "2500", "--seed", "9", "--out", str(out)], check=True,
                   capture_output=True)
    assert retention.generate(2500, seed=9).equals(retention.read_table(out))


def test_generate_defaults_and_shifts():
    a = retention.generate(3000)
    assert a.shape == (3000, 21)
    assert a.equals(retention.generate(3000, seed=42))
    assert a["customerID"].n_unique() == 3000
    shifted = retention.generate(3000, shift=["tenure=-6", "Contract=Month-to-month:+0.15"])
    tenure = lambda f: f["tenure"].cast(pl.Float64).mean()  # noqa: E731
    assert tenure(shifted) < tenure(a) - 3
    share = lambda f: (f["Contract"] == "Month-to-month").mean()  # noqa: E731
    assert share(shifted) > share(a) + 0.1


def test_generate_like_a_frame():
    template = pl.DataFrame({
        "account_id": [f"A{i}" for i in range(200)],
        "plan": ["basic", "pro"] * 100,
        "spend": [str(10 + i % 50) for i in range(200)],
        "churned": ["yes", "no", "no", "no"] * 50,
    })
    made = retention.generate(500, seed=1, like=template)
    assert made.columns == template.columns
    assert set(made["plan"].unique()) <= {"basic", "pro"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"rows": 0}, ["rows", "at least 1"]),
        ({"rows": 10**12}, ["rows", "retention generate --out"]),
        ({"rows": 10, "shift": ["tenure"]}, ["tenure", "no '='"]),
        ({"rows": 10, "shift": ["Contract=Month-to-month:2"]}, ["share"]),
        ({"rows": 10, "shift": ["nosuch=+1"]}, ["nosuch"]),
    ],
)
def test_generate_refusals_name_the_value(kwargs, words):
    with pytest.raises(retention.RetentionError) as err:
        retention.generate(**kwargs)
    for word in words:
        assert word in str(err.value)
