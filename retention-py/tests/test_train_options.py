"""Every `retention train` flag is a `retention.train` keyword of the same name (Python
spelling) with the same default, and it does the same thing."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import warnings

import polars as pl
import pytest

import retention
from retention import _retention

from test_defaults import STUB

# What the CLI takes that a frame-in, model-out function has no use for.
CLI_ONLY = {"data", "out", "json", "help"}
# What only Python has: the frame, and a callback instead of the terminal's progress line.
PYTHON_ONLY = {"df", "progress"}


def cli_flags(cli: str, *command: str) -> dict[str, str | None]:
    """`retention COMMAND --help`'s flags (snake case) and the default each shows."""
    text = subprocess.run([cli, *command, "--help"], capture_output=True, text=True, check=True).stdout
    flags: dict[str, str | None] = {}
    # A flag's line is indented 2 to 6 spaces; its wrapped help lines (which may start with
    # another flag's name) 10.
    blocks = re.split(r"\n(?= {2,6}(?:-\w, )?--[a-z])", text)
    for block in blocks:
        match = re.match(r" {2,6}(?:-\w, )?--([a-z][a-z0-9-]*)", block)
        if not match:
            continue
        default = re.search(r"\[default: ([^\]]*)\]", block)
        flags[match.group(1).replace("-", "_")] = default.group(1) if default else None
    return flags


def stub_train() -> dict[str, object]:
    """The stub's `train` arguments and their defaults (`None` shown for none)."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train"]
    a = node.args
    positional = a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    found = {arg.arg: d for arg, d in zip(positional, defaults)}
    found.update({arg.arg: d for arg, d in zip(a.kwonlyargs, a.kw_defaults)})
    return {k: (ast.literal_eval(v) if v is not None else None) for k, v in found.items()}


def same(cli_default: str | None, python_default: object) -> bool:
    if cli_default is None:
        return python_default in (None, ())
    if isinstance(python_default, tuple):
        return tuple(float(x) for x in cli_default.split(",")) == python_default
    if isinstance(python_default, bool):
        return False
    if isinstance(python_default, (int, float)):
        return float(cli_default) == python_default
    # The CLI writes choices with dashes (`log-loss`), Python with underscores.
    return cli_default.replace("-", "_") == python_default


def test_every_cli_training_flag_is_a_python_keyword_with_the_same_default(cli: str) -> None:
    # The global options (database, logs, configuration) are every command's.
    everywhere = set(cli_flags(cli))
    flags = {k: v for k, v in cli_flags(cli, "train").items() if k not in everywhere}
    stub = stub_train()
    assert set(flags) - CLI_ONLY == set(stub) - PYTHON_ONLY
    for name in set(flags) - CLI_ONLY:
        assert same(flags[name], stub[name]), f"{name}: the CLI shows {flags[name]!r}, Python {stub[name]!r}"
    # And the core's table of options is what both offer.
    core = _retention._defaults()["train"]
    assert set(core) <= set(stub)
    assert {"trees", "learning_rate", "max_leaves", "max_depth", "min_samples_leaf", "l2", "class_weight"} <= set(core)


def test_the_options_train_the_model_the_cli_trains(cli: str, telco_path, tmp_path) -> None:
    options = {"trees": 12, "learning_rate": 0.3, "max_leaves": 4, "class_weight": "balanced",
               "cv": 0, "seed": 3, "threshold": 0.4}
    path = tmp_path / "cli.model"
    args = [cli, "train", "--data", str(telco_path), "--target", "Churn", "--id", "customerID",
            "--algorithm", "boosting", "--out", str(path)]
    for key, value in options.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    subprocess.run(args, check=True, capture_output=True)
    frame = retention.read_table(telco_path)
    ours = retention.train(frame, target="Churn", id="customerID", algorithm="boosting", **options)
    theirs = retention.ChurnModel.load(path)
    a, b = ours.score(frame), theirs.score(frame)
    assert a.equals(b)
    assert ours.threshold == 0.4
    default = retention.train(frame, target="Churn", id="customerID", algorithm="boosting", cv=0)
    assert not default.score(frame)["churn_probability"].equals(a["churn_probability"])


def test_the_tree_and_logistic_settings_take_effect(telco: pl.DataFrame) -> None:
    shallow = retention.train(telco, target="Churn", algorithm="tree", cv=0, max_depth=1)
    deeper = retention.train(telco, target="Churn", algorithm="tree", cv=0, max_depth=4, min_samples_leaf=5)
    # A depth-1 tree has two leaves: two distinct probabilities.
    assert shallow.score(telco)["churn_probability"].n_unique() == 2
    assert deeper.score(telco)["churn_probability"].n_unique() > 2
    strong = retention.train(telco, target="Churn", algorithm="logistic", cv=0, l2=1e4)
    weak = retention.train(telco, target="Churn", algorithm="logistic", cv=0, l2=1e-3)
    spread = lambda m: m.score(telco)["churn_probability"].std()  # noqa: E731
    assert spread(strong) < spread(weak)


def test_bad_options_are_refused_by_their_python_name(telco: pl.DataFrame) -> None:
    small = telco.head(300)
    with pytest.raises(retention.InvalidParameterError, match="trees="):
        retention.train(small, target="Churn", trees="many")
    with pytest.raises(retention.InvalidParameterError, match="trees="):
        retention.train(small, target="Churn", trees=True)
    with pytest.raises(retention.InvalidParameterError, match="trees="):
        retention.train(small, target="Churn", trees=-1)
    with pytest.raises(retention.InvalidParameterError, match="learning_rate="):
        retention.train(small, target="Churn", algorithm="boosting", cv=0, learning_rate=0.0)
    with pytest.raises(retention.InvalidParameterError, match="balanced"):
        retention.train(small, target="Churn", class_weight="heavy")
    with pytest.raises(retention.InvalidParameterError, match="max_leaves") as unknown:
        retention.train(small, target="Churn", max_leafs=4)
    assert "max_leafs=" in str(unknown.value)
    with pytest.raises(retention.InvalidParameterError, match="select_by="):
        retention.train(small, target="Churn", select_by="accuracy")


def test_the_old_name_of_select_by_still_works_with_a_warning(telco: pl.DataFrame) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = retention.train(telco.head(600), target="Churn", cv=3, selection="roc_auc")
    assert any(issubclass(w.category, DeprecationWarning) and "select_by" in str(w.message) for w in caught)
    assert model.metrics["cv"] is not None


def test_tiers_take_a_pair_a_list_or_the_dict_a_model_gives(telco: pl.DataFrame) -> None:
    small = telco.head(500)
    first = retention.train(small, target="Churn", algorithm="logistic", cv=0, tiers=(0.2, 0.6))
    for tiers in ([0.2, 0.6], first.tiers):
        again = retention.train(small, target="Churn", algorithm="logistic", cv=0, tiers=tiers)
        assert again.tiers == first.tiers
    with pytest.raises(retention.InvalidParameterError, match="tiers="):
        retention.train(small, target="Churn", tiers=[0.2, 0.4, 0.6])
    with pytest.raises(retention.InvalidParameterError, match="tiers="):
        retention.train(small, target="Churn", tiers={"medium": 0.2})


def test_select_by_under_both_names_is_refused(telco: pl.DataFrame) -> None:
    with pytest.raises(retention.InvalidParameterError, match="select_by="):
        retention.train(telco.head(300), target="Churn", select_by="log_loss", selection="roc_auc")


@pytest.mark.parametrize(
    ("keyword", "value", "words"),
    [
        ("categorical", "Contract", ["categorical=", "not the string 'Contract'", "['Contract']"]),
        ("numeric", 3, ["numeric=", "list of column names", "int 3"]),
        ("ignore", [1, 2], ["ignore=", "list of column names"]),
        ("positive_label", 1, ["positive_label=", "label's text", "int 1"]),
        ("features", 12, ["features=", "path of a feature file", "int 12"]),
    ],
)
def test_column_roles_and_files_of_the_wrong_type_name_their_keyword(telco, keyword, value, words):
    with pytest.raises(retention.InvalidParameterError) as err:
        retention.train(telco.head(300), target="Churn", cv=0, **{keyword: value})
    for word in words:
        assert word in str(err.value)


def test_none_means_unset_for_column_roles_and_files(telco):
    model = retention.train(telco.head(400), target="Churn", algorithm="logistic", cv=0,
                            categorical=None, numeric=None, ignore=None, positive_label=None,
                            features=None)
    assert model.schema["tenure"] == "numeric"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
def test_arguments_of_the_wrong_type_are_named_in_the_traceback(telco, model):
    # pyo3 adds "while processing 'NAME'" as a note, which Python prints under the message.
    calls = [
        (lambda: retention.train(telco.head(50), target=1), "target"),
        (lambda: model.explain(telco.head(5), top="3"), "top"),
        (lambda: retention.drift(telco, telco, bins="ten"), "bins"),
        (lambda: retention.generate("many"), "rows"),
    ]
    for call, name in calls:
        with pytest.raises(TypeError) as err:
            call()
        assert f"while processing '{name}'" in getattr(err.value, "__notes__", []), name
