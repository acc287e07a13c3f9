"""The package's shape: layers import only downwards, no module cycle, no hidden lazy imports, and the
schedule package stays free of torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import musicrfm

ROOT = Path(musicrfm.__file__).parent
LAYERS = {
    "musicrfm": 0,  # the top-level helpers: checks, files, yaml_text, __version__
    "agop": 1, "models": 2, "data": 3, "schedules": 4, "steering": 4, "probes": 5, "evaluation": 6,
    "toy": 7, "jobs": 8, "cli": 9, "app": 9, "__main__": 10,
}
OPTIONAL = {"basic_pitch", "datasets", "fluidsynth", "gradio", "librosa", "matplotlib", "pretty_midi", "ray", "sklearn"}
"""Third-party packages that only some extras install: the only ones imported inside functions."""


def _modules() -> dict[str, ast.Module]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("musicrfm", *path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = ast.parse(path.read_text(encoding="utf-8"))
    return modules


MODULES = _modules()


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "musicrfm"


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Modules that one import statement loads (a `from package import name` counts name when it is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _imports(tree: ast.Module, *, top_level_only: bool) -> list[tuple[ast.AST, str]]:
    body = tree.body if top_level_only else list(ast.walk(tree))
    return [(node, target) for node in body if isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _targets(node)]


def test_every_import_points_to_the_same_layer_or_below():
    upward = [f"{module} -> {target}" for module, tree in MODULES.items()
              for _, target in _imports(tree, top_level_only=False)
              if target.startswith("musicrfm") and LAYERS[_layer(target)] > LAYERS[_layer(module)]]
    assert upward == []


def test_modules_import_each_other_without_a_cycle():
    graph = {m: {t for _, t in _imports(tree, top_level_only=True) if t in MODULES and t != m}
             for m, tree in MODULES.items()}
    # A package's __init__ gathering its own submodules is the one expected direction; a submodule that
    # imports its package back (or another module that imports it) is a cycle.
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def _nested_imports(tree: ast.Module) -> list[tuple[int, str]]:
    allowed = {id(n) for n in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks are for annotations and never run
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            allowed |= {id(n) for n in ast.walk(node)}
    return [(node.lineno, target) for node, target in _imports(tree, top_level_only=False) if id(node) not in allowed]


def test_only_optional_dependencies_are_imported_inside_functions():
    hidden = [f"{module}:{line} imports {target}" for module, tree in MODULES.items()
              for line, target in _nested_imports(tree) if target.split(".")[0] not in OPTIONAL]
    assert hidden == []


def test_the_layer_table_covers_every_package():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(LAYERS)


@pytest.mark.parametrize("package, absent", [("musicrfm.schedules", "torch"), ("musicrfm.evaluation", "torch"),
                                             ("musicrfm.checks", "numpy")])
def test_light_packages_do_not_pull_in_heavy_ones(package, absent):
    code = f"import sys, {package}; print({absent!r} in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
