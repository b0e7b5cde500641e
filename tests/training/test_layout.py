"""The training package's shape, read from its source: no import cycle, networks that know nothing of training
or export, one module for gradient steps, one for the ONNX export call, one PSNR across the repository."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "training" / "aecodec_training"
CODE = [ROOT / "training", ROOT / "service", ROOT / "proto", ROOT / "benchmarks", ROOT / "clients"]


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The package's modules ``path`` imports (relative imports resolved, ``from . import x`` as the module x)."""
    here = _module(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1]) if node.level else (node.module or "")
            if node.level and node.module:
                base = f"{base}.{node.module}"
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "aecodec_training"}


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in files and m != name} for name, path in files.items()}


def _python_files() -> list[Path]:
    skip = {".venv", "build"}  # environments, and the copies a package build leaves (proto/build/lib/...)
    return [p for folder in CODE for p in folder.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]


def test_the_training_package_has_no_import_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for other in sorted(graph[name]):
            # a package imports its own submodules to re-export them: only the edge out of the package counts
            if not other.startswith(name + "."):
                visit(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_models_import_nothing_from_training_or_export() -> None:
    leaks = {
        name: sorted(m for m in imports if not m.startswith("aecodec_training.models"))
        for name, imports in _graph().items()
        if name.startswith("aecodec_training.models")
    }
    assert not {k: v for k, v in leaks.items() if v}


def _calls(callee: str) -> set[str]:
    """The files (relative to the repository) that call something ending in ``callee`` ("x.backward", say)."""
    where = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(callee):
                where.add(str(path.relative_to(ROOT)))
    return where


def test_backward_is_called_in_one_module() -> None:
    assert _calls(".backward") == {"training/aecodec_training/optim.py"}


def test_the_onnx_export_call_stands_in_one_module() -> None:
    assert _calls("onnx.export") == {"training/aecodec_training/onnx_io.py"}


def test_psnr_is_defined_once() -> None:
    """Every PSNR is ``aecodec_wire.quality``'s: no other module takes a log10 of a squared error."""
    where = {str(p.relative_to(ROOT)) for p in _python_files() if "log10" in p.read_text()}
    assert where == {"proto/aecodec_wire/quality.py"}
