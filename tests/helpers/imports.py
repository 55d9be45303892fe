"""Which `starrec` modules a file imports, directly or through other starrec modules.

Read from the source (ast), so imports inside functions and untaken branches count too:
what a stage *may* run is what DVC must watch.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from helpers.paths import REPO_ROOT

SRC = REPO_ROOT / "src"


def module_file(name: str) -> Path | None:
    """The file of a `starrec...` module or package under src/, if there is one."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


@cache
def direct_imports(path: Path, name: str = "") -> frozenset[str]:
    """starrec modules `path` (module `name`, '' for a script) imports itself, with the
    packages on the way (importing a.b.c runs a/__init__ and a/b/__init__)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up from this module's package
                package = _package(name, path).split(".")
                base = ".".join(package[: len(package) - node.level + 1] + [base])
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if not target.startswith("starrec"):
                continue
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if module_file(prefix) is not None:
                    found.add(prefix)
    return frozenset(found)


def transitive_imports(path: Path) -> set[str]:
    """Every starrec module running the file `path` may import."""
    seen: set[str] = set()
    todo = list(direct_imports(path))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += direct_imports(module_file(name), name)
    return seen


def source_files(path: Path) -> set[Path]:
    """The files under src/ of `transitive_imports(path)`."""
    return {module_file(name) for name in transitive_imports(path)}
