"""The import rules of docs/architecture.md, read from the source (every import statement, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The modules ``path`` imports (absolute names; relative imports resolved inside the package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: the room's own package
                names.add(f"<relative>.{node.module or ''}")
            else:
                names.add(node.module)
    return names


def _under(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def _files(folder: str) -> list[Path]:
    return sorted((REPO / folder).glob("*.py"))


@pytest.mark.parametrize("folder", ["systems", "analysis"])
def test_systems_and_analysis_import_no_torch_and_nothing_of_dsr_but_systems(folder: str) -> None:
    for path in _files(folder):
        names = imports(path)
        assert not _under(names, ("torch", "xarray", "zarr", "dash", "plotly")), path
        # dsr.kinds: the kinds' torch-free definitions, which the Numba face evaluates on numpy arrays.
        assert all(n.startswith(("dsr.systems", "dsr.analysis", "dsr.kinds")) for n in names if n.startswith("dsr")), (path, names)


def test_the_kinds_import_no_torch_at_module_level() -> None:
    for path in _files("dsr/kinds"):
        names = imports(path, top_level_only=True)
        assert not _under(names, ("torch", "xarray", "dsr.models", "dsr.training")), path


def test_the_app_imports_neither_torch_nor_the_training_code() -> None:
    for path in _files("app"):
        bad = _under(imports(path), ("torch", "dsr.models", "dsr.training", "dsr.fitting", "dsr.evaluation", "dsr.zoo"))
        assert not bad, (path, bad)


def test_models_know_nothing_of_training_or_stores() -> None:
    for path in _files("dsr/models"):
        bad = _under(imports(path), ("dsr.training", "dsr.fitting", "dsr.run", "dsr.runstore", "dsr.app"))
        assert not bad, (path, bad)


@pytest.mark.parametrize("module", ["dsr/run.py", "dsr/runstore.py", "dsr/standardization.py", *map(str, (REPO / "dsr/run_analysis").glob("*.py"))])
def test_the_readers_import_no_torch_at_module_level(module: str) -> None:
    path = REPO / module
    bad = _under(imports(path, top_level_only=True), ("torch", "dsr.models", "dsr.training", "dsr.fitting", "dsr.evaluation"))
    assert not bad, (path, bad)


def test_the_checks_see_imports() -> None:
    """The scanner finds lazy imports, so the rules above can fail."""
    assert "torch" in imports(REPO / "dsr/run.py") and "torch" not in imports(REPO / "dsr/run.py", top_level_only=True)
    assert _under(imports(REPO / "dsr/fitting.py"), ("torch",)) == ["torch"]
