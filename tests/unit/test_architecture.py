"""The architecture of docs/architecture.md, kept true: every stage in dvc.yaml is one
`pipelines/<stage>.py` and declares every src/ file it may import; packages import only
downward; no import cycles."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from helpers.imports import SRC, direct_imports, module_file, source_files
from helpers.paths import REPO_ROOT
from helpers.stage_deps import src_deps

# The base modules every layer may use; they import only each other.
CORE = {"starrec", "starrec.artifacts", "starrec.config", "starrec.errors", "starrec.flat",
        "starrec.io", "starrec.log", "starrec.model_meta", "starrec.names", "starrec.stage",
        "starrec.engine", "starrec.tracking", "starrec.servers"}
# Packages bottom up: each may import CORE, itself and the packages before it.
LAYERS = ["download", "faces", "dataset", "train", "pretrain", "evaluate", "calibrate",
          "predict", "enroll", "serve", "video", "library", "search", "cli", "tracking_server"]


def all_modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def layer(module: str) -> int:
    """-1 for CORE, else the index in LAYERS of the module's package."""
    if module in CORE:
        return -1
    return LAYERS.index(module.split(".")[1])


@cache
def dvc_stages() -> dict[str, tuple[Path, list[Path]]]:
    """stage -> (its script, its file deps), as DVC resolves dvc.yaml."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(REPO_ROOT)) as repo:
        return {s.addressing: (
            REPO_ROOT / re.fullmatch(r"python (pipelines/\w+\.py)( --dataset \w+)?", s.cmd)[1],
            [Path(d.fs_path) for d in s.deps if not isinstance(d, ParamsDependency)])
            for s in repo.index.stages}


def test_every_module_sits_in_a_layer() -> None:
    unplaced = [m for m in all_modules() if m not in CORE and (
        m.count(".") == 0 or m.split(".")[1] not in LAYERS)]
    assert unplaced == []


def test_packages_import_only_downward() -> None:
    upward = [f"{m} -> {t}" for m, path in all_modules().items()
              for t in direct_imports(path, m) if layer(t) > layer(m)]
    assert upward == []


def test_no_import_cycles() -> None:
    graph = {m: set(direct_imports(p, m)) - {m} for m, p in all_modules().items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(module):] + (module,)))
        if module in done:
            return
        for target in graph[module]:
            if not module.startswith(target + "."):  # a module imports its own package
                visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_every_stage_is_one_pipelines_script() -> None:
    scripts = {script for script, _ in dvc_stages().values()}
    assert scripts == set((REPO_ROOT / "pipelines").glob("*.py"))


@pytest.mark.parametrize("stage", sorted(dvc_stages()))
def test_stage_declares_every_module_it_imports(stage: str) -> None:
    script, deps = dvc_stages()[stage]
    needed = {script} | source_files(script)
    missing = sorted(str(f.relative_to(REPO_ROOT)) for f in needed
                     if not any(f == d or d in f.parents for d in deps))
    assert missing == [], f"dvc.yaml: stage {stage} lacks these deps"


WHOLE_PACKAGE = {"calibrate": "the pyfunc model it logs carries the package's code"}


@pytest.mark.parametrize("stage", sorted(dvc_stages()))
def test_stage_src_deps_are_exactly_what_it_imports(stage: str) -> None:
    """No more either: a src/ dep the stage does not import would re-run it for nothing.
    Regenerate them with `python tests/helpers/stage_deps.py`."""
    script, deps = dvc_stages()[stage]
    declared = sorted(str(d.relative_to(REPO_ROOT)) for d in deps if SRC in d.parents)
    expected = ["src/starrec"] if stage in WHOLE_PACKAGE else sorted(src_deps(script))
    assert declared == expected, (
        f"dvc.yaml: stage {stage}'s src/ deps are not what it imports "
        "(python tests/helpers/stage_deps.py rewrites them)")


def test_module_file_finds_packages_and_modules() -> None:
    assert module_file("starrec.train") == SRC / "starrec/train/__init__.py"
    assert module_file("starrec.train.fit") == SRC / "starrec/train/fit.py"
    assert module_file("starrec.train.fit.fit") is None
