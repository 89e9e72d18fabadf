"""The wheel as people install it: scripts/build_wheel.sh makes the abi3 wheel, pip installs it
(binaries only) into a fresh virtual environment whose PATH holds no Rust toolchain, and the
notebook example runs there from a folder outside the checkout. The polars range the package
declares is tried at its floor and across the 2.0 boundary.

RETENTION_WHEEL names a wheel already built (.ci/run builds it once); otherwise the fixture
builds one (release, several minutes on a cold cache)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conftest import ROOT

PYPROJECT = ROOT / "retention-py" / "pyproject.toml"
PINS = ROOT / "retention-py" / "requirements-dev.txt"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get("RETENTION_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([str(ROOT / "scripts" / "build_wheel.sh"), "--out", str(out)],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


def polars_range() -> tuple[str, str]:
    """The (floor, ceiling) of pyproject's `polars>=A,<B`."""
    text = PYPROJECT.read_text(encoding="utf-8")
    found = re.search(r'"polars>=([0-9.]+),<([0-9.]+)"', text)
    assert found, "pyproject.toml declares polars as >=A,<B"
    return found.group(1), found.group(2)


def fresh_env(root: Path) -> tuple[Path, dict[str, str]]:
    """A new virtual environment and an environment for processes run in it: PATH holds only its
    bin folder, so no cargo, rustc or maturin can be found."""
    venv.EnvBuilder(with_pip=True).create(root)
    bin_dir = root / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "VIRTUAL_ENV"))}
    env.update(PATH=str(bin_dir), PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1",
               CARGO_HOME="/nonexistent", RUSTUP_HOME="/nonexistent")
    for tool in ("cargo", "rustc", "maturin"):
        assert shutil.which(tool, path=env["PATH"]) is None, tool
    return bin_dir / "python", env


def pip_install(python: Path, env: dict[str, str], *requirements: str, constrain: bool = True) -> None:
    args = [str(python), "-m", "pip", "install", "--quiet", "--only-binary", ":all:"]
    if constrain:
        # The versions the rest of the suite uses (what pip's cache already holds).
        args += ["--constraint", str(PINS)]
    done = subprocess.run([*args, *requirements], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_wheel_is_abi3_and_names_package_and_module(wheel: Path):
    assert re.fullmatch(r"retentionai-[0-9.]+-cp39-abi3-linux_[a-z0-9_]+\.whl", wheel.name), wheel.name
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    for inside in ("retention/__init__.py", "retention/_retention.pyi", "retention/py.typed",
                   "retention/app/__main__.py", "retention/app/streamlit_app.py", "retention/plot.py"):
        assert inside in names, inside
    assert any(re.fullmatch(r"retention/_retention\.abi3\.so", n) for n in names), names


def test_the_notebook_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path):
    python, env = fresh_env(tmp_path / "env")
    pip_install(python, env, f"{wheel}[plot]")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "notebook.py", work / "notebook.py")
    env["RETENTION_EXAMPLE_OUT"] = str(work / "out")
    done = subprocess.run([str(python), "notebook.py"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    where = subprocess.run([str(python), "-c", "import retention; print(retention.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(tmp_path / "env")), where  # the wheel's module, not the checkout's
    assert "(7043, 21)" in done.stdout
    for figure in ("quality.png", "explanations.png"):
        assert (work / "out" / figure).stat().st_size > 10_000, figure


PROBE = """
import polars as pl, retention
df = retention.telco()
model = retention.train(df, target="Churn", id="customerID", algorithm="boosting", cv=2, trees=30,
                        progress=None)
scores = model.score(df)
typed = model.score(pl.from_pandas(df.to_pandas()).with_columns(pl.col("tenure").cast(pl.Int64)))
assert (scores["churn_probability"] - typed["churn_probability"]).abs().max() < 1e-12
assert model.score(df.to_pandas())["churn_probability"].equals(scores["churn_probability"])
assert model.contributions(df.head(50)).shape == (50, 21)
assert model.explain(df.head(5)).height == 5
assert model.curves(df).height > 100
report = retention.drift(df, retention.generate(5000, shift=["tenure=-12"]), model=model)
assert "tenure" in report.drifting, report.drifting
print(pl.__version__, "ok")
"""


@pytest.mark.parametrize("which", ["floor", "2.0.0"])
def test_polars_range(wheel: Path, tmp_path: Path, which: str):
    floor, ceiling = polars_range()
    version = floor if which == "floor" else which
    assert tuple(map(int, version.split("."))) < tuple(map(int, ceiling.split(".")))
    python, env = fresh_env(tmp_path / "env")
    pins = {line.split("==")[0]: line.strip() for line in PINS.read_text().splitlines() if "==" in line}
    pip_install(python, env, str(wheel), f"polars=={version}", pins["pandas"], pins["pyarrow"],
                constrain=False)
    done = subprocess.run([str(python), "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"{version} ok"
