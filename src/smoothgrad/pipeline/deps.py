"""A stage's code dependencies, derived from what its script imports, so `dvc.yaml` cannot miss a
module: editing any file a stage runs makes `dvc status` name that stage.

The closure follows every `import`/`from ... import` inside `smoothgrad` (also those inside
functions), the `__init__.py` of each package on the way, and the package data files (non-Python
files such as the gallery's template) of every package whose modules are imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..store.paths import REPO_ROOT

PACKAGE = "smoothgrad"
SRC = REPO_ROOT / "src"


def _module_file(module: str) -> Path | None:
    """The file of a `smoothgrad...` module or package, or None if there is none."""
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """`smoothgrad` modules a file imports: the modules named, and the names imported from a
    package that are themselves modules (`from .figures import catalog`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else (
        _module_name(path).rpartition(".")[0] if path.is_relative_to(SRC) else "")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] == PACKAGE and _module_file(m) is not None}


def _with_parents(module: str) -> list[str]:
    """A module and every package above it (importing it runs their `__init__.py`)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@cache
def _closure(script: Path) -> frozenset[Path]:
    seen: set[str] = set()
    todo = sorted(_imported(script))
    while todo:
        for module in _with_parents(todo.pop()):
            if module not in seen:
                seen.add(module)
                todo.extend(_imported(_module_file(module)) - seen)
    files = {_module_file(m) for m in seen}
    for folder in {f.parent for f in files}:
        files.update(_package_data(folder))
    return frozenset(files)


def _package_data(folder: Path) -> set[Path]:
    """Non-Python files shipped beside a package's modules (templates, manifests)."""
    return {p for p in folder.iterdir() if p.is_file() and p.suffix not in (".py", ".pyc")}


def code_files(script: Path) -> list[Path]:
    """The script and every `smoothgrad` file it runs, sorted, absolute."""
    script = script.resolve()
    return sorted({script, *_closure(script)})


def compact(files: Iterable[Path], root: Path = REPO_ROOT) -> list[str]:
    """Repository-relative deps for `dvc.yaml`: a folder stands for its files where the set holds
    every file under it (shorter lists, same coverage)."""
    wanted = {f.resolve() for f in files}
    out: set[Path] = set()
    for f in wanted:
        top = f
        for folder in f.parents:
            if not folder.is_relative_to(SRC / PACKAGE) or folder == SRC / PACKAGE:
                break
            if all(p in wanted for p in _tree_files(folder)):
                top = folder
        out.add(top)
    return sorted(p.relative_to(root).as_posix() for p in out)


def _tree_files(folder: Path) -> list[Path]:
    return [p.resolve() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]


def uncovered(dep_paths: Iterable[str], files: Iterable[Path],
              root: Path = REPO_ROOT) -> list[Path]:
    """The `files` that no dep (file or folder, repository-relative) covers."""
    deps = [(root / d).resolve() for d in dep_paths]
    return sorted(f for f in files if not any(f == d or f.is_relative_to(d) for d in deps))


def missing_deps(dvc_yaml: Mapping[str, Any], root: Path = REPO_ROOT) -> dict[str, list[str]]:
    """Per stage of a parsed `dvc.yaml`, the files its script runs that its deps do not list
    (empty when the pipeline is sound). Independent of the generator, so it also checks a
    hand-edited `dvc.yaml`."""
    found = {}
    for name, stage in dvc_yaml["stages"].items():
        script = next(root / word for word in stage["cmd"].split() if word.endswith(".py"))
        missing = uncovered(stage.get("deps", []), code_files(script), root)
        if missing:
            found[name] = [p.relative_to(root).as_posix() for p in missing]
    return found
