"""The stubs' defaults are the core's: every default `_retention.pyi` shows for an argument the
core gives a default equals the value `retention._retention._defaults()` reports."""

from __future__ import annotations

import ast
import pathlib
from typing import Any

from retention import _retention

STUB = pathlib.Path(_retention.__file__).with_name("_retention.pyi")
if not STUB.exists():
    STUB = pathlib.Path(__file__).parents[1] / "python" / "retention" / "_retention.pyi"


def stub_signatures() -> dict[str, dict[str, Any]]:
    """Every stub function's defaults by qualified name (`train`, `ChurnModel.explain`); a
    TypedDict's keys map to None."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    found: dict[str, dict[str, Any]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                keys = {
                    n.target.id: None
                    for n in node.body
                    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
                }
                if keys:
                    found[prefix + node.name] = keys
                visit(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.FunctionDef):
                a = node.args
                positional = a.posonlyargs + a.args
                pairs = list(zip(positional[len(positional) - len(a.defaults):], a.defaults))
                pairs += [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
                found[prefix + node.name] = {k.arg: ast.literal_eval(d) for k, d in pairs}

    visit(tree.body, "")
    return found


def test_stub_defaults_are_the_cores():
    stub = stub_signatures()
    core = _retention._defaults()
    assert core, "no defaults reported"
    for function, defaults in core.items():
        assert function in stub, f"{function} is not in the stub"
        for name, value in defaults.items():
            assert name in stub[function], f"{function}: {name} is not in the stub"
            if function == "Thresholds":
                continue
            shown = stub[function][name]
            assert shown == value and type(shown) is type(value), (
                f"{function}({name}=...): the stub shows {shown!r}, the core's default is {value!r}"
            )
        # A default the stub shows beyond the core's is "nothing" (None or empty).
        for name, shown in stub[function].items():
            if name not in defaults:
                assert shown in (None, ()), f"{function}({name}={shown!r}) has no core default"
    assert set(stub["Thresholds"]) == set(core["Thresholds"])
