"""DESIGN.md's import table and the pure core, checked on the source (ruff's banned-api cannot express a table)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "sizing"
# module -> sizing modules it may import (DESIGN.md "Modules"; scenarios resolves names for the CLI and scripts)
ALLOWED = {
    "units": set(),
    "specs": {"units", "specs"},
    "catalog": {"specs", "units"},
    "modelspec": {"specs"},
    "estimate": {"specs", "units"},
    "rules": {"estimate", "specs", "units"},
    "recommend": {"rules", "estimate", "specs", "units", "recommend"},
    "report": {"specs", "units", "report"},
    "rl": {"catalog", "estimate", "recommend", "rules", "scenarios", "specs", "units"},  # rules: the RL run's deadline
    "scenarios": {"catalog", "modelspec", "estimate", "recommend", "report", "specs", "hybrid"},
    "hybrid": {"catalog", "estimate", "specs"},
    "reverse": {"catalog", "scenarios", "specs"},  # estimate --max: bisects scenarios.run
    "bench": {"catalog", "modelspec", "estimate", "specs", "units"},
    "cli": {
        "catalog",
        "scenarios",
        "distillation",
        "rl",
        "report",
        "specs",
        "bench",
        "units",
        "cli",
        "web",
        "answers",
        "reverse",
    },
    "distillation": {"catalog", "estimate", "recommend", "scenarios", "specs"},
    "answers": {"catalog", "distillation", "modelspec", "report", "rl", "scenarios", "specs"},  # an entry per request
    "web": {"answers", "catalog", "modelspec", "report", "specs", "web"},  # HTTP over the library, no computing
}
# third-party or stdlib modules only one sizing module may import
OWNERS = {
    "torch": {"bench"},
    "typer": {"cli"},
    "jinja2": {"report"},
    "pandas": {"report"},
    "rich": {"report"},
    "csv": {"catalog"},
    "fastapi": {"web"},
    "starlette": {"web"},
}
CORE = {"estimate", "rules", "recommend"}


def modules() -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        name = rel.parts[0].removesuffix(".py")
        if name in ("__init__", "__main__"):
            continue
        out.setdefault(name, []).append(path)
    return out


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(sizing modules, top-level other modules) imported anywhere in the file."""
    tree = ast.parse(path.read_text())
    own, other = set(), set()
    package_depth = len(path.relative_to(PKG).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sizing."):
                    own.add(alias.name.split(".")[1])
                else:
                    other.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and (node.module == "sizing" or node.module.startswith("sizing.")):
                parts = node.module.split(".")
                own.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
            elif node.level:
                if node.level > package_depth:  # relative to sizing/
                    own.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
                else:  # inside its own package
                    own.add(path.relative_to(PKG).parts[0])
            elif node.module:
                other.add(node.module.split(".")[0])
    return own, other


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_import_table(module):
    for path in modules()[module]:
        own, other = imports(path)
        assert own <= ALLOWED[module] | {module}, f"{path.name} imports {own - ALLOWED[module]}"
        for lib, owners in OWNERS.items():
            assert lib not in other or module in owners, f"{path.name} imports {lib}"


def test_every_module_is_in_the_table():
    assert set(modules()) <= set(ALLOWED)


@pytest.mark.parametrize("module", sorted(CORE))
def test_core_is_pure(module):
    """No file access, printing or network in the estimator, the rules and the recommender."""
    for path in modules()[module]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "print", "input"), f"{path.name}:{node.lineno} {node.func.id}()"
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("read_text", "write_text", "urlopen"), f"{path.name}:{node.lineno}"


def test_bench_imports_torch_only_inside_functions():
    for path in modules()["bench"]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                assert not any(n and n.startswith("torch") for n in names), path.name


def test_every_subpackage_is_in_the_wheel():
    """pyproject lists packages by hand (data/ ships as sizing_data): a new subpackage missing there would import
    from a checkout and fail after `pip install .`."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((PKG.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "sizing" + "".join(f".{p}" for p in init.parent.relative_to(PKG).parts) for init in PKG.rglob("__init__.py")
    }
    assert found <= listed, found - listed


def test_no_file_passes_400_lines_and_no_function_six_arguments():
    """DESIGN.md: a module past ~400 lines becomes a package; no function takes more than six arguments (the
    typer commands excepted: each option is a parameter)."""
    for path in PKG.rglob("*.py"):
        text = path.read_text()
        assert text.count("\n") <= 400, f"{path.name}: {text.count(chr(10))} lines"
        if path.parent.name == "cli":  # the typer commands
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
                n = len([a for a in args if a not in ("self", "cls")])
                assert n <= 6, f"{path.name}:{node.lineno} {node.name} takes {n} arguments"


def test_runtime_classes_keep_their_old_import_path():
    """Precision, Engine and Efficiency moved to specs/runtime.py so ModelSpec can grow; specs/model.py and the
    specs package still export the same classes."""
    from sizing import specs
    from sizing.specs import model, runtime

    for name in ("Precision", "Engine", "Efficiency"):
        assert getattr(model, name) is getattr(runtime, name) is getattr(specs, name)
