"""The fault suite's case list: every test in tests/faults says what it breaks and what must
happen, and docs/reliability.md is generated from those records (tests/faults/report.py), so
the table cannot drift from the tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FAULTS_DIR = Path(__file__).resolve().parents[1] / "faults"


@dataclass(frozen=True)
class Case:
    stage: str  # where the fault hits
    fault: str  # what is broken, one line
    outcome: str  # what the pipeline does about it, one line


def case(stage: str, fault: str, outcome: str) -> Callable[[Any], Any]:
    """Register a test as a fault case."""
    def mark(fn: Any) -> Any:
        fn.fault_cases = [*getattr(fn, "fault_cases", []), ("", Case(stage, fault, outcome))]
        return fn
    return mark


def cases(argname: str, table: dict[str, tuple[Any, Case]]) -> Callable[[Any], Any]:
    """`pytest.mark.parametrize(argname)` over `table` (id -> (value, case)), each a case."""
    def mark(fn: Any) -> Any:
        fn = pytest.mark.parametrize(argname, [pytest.param(v, id=k) for k, (v, _) in table.items()])(fn)
        fn.fault_cases = [*getattr(fn, "fault_cases", []),
                          *((f"[{k}]", c) for k, (_, c) in table.items())]
        return fn
    return mark


def collect(directory: Path = FAULTS_DIR) -> list[tuple[str, Case]]:
    """(test module::function, case) for every registered case, in file and line order."""
    found = []
    for path in sorted(directory.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"_faults_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tests = sorted((fn.__code__.co_firstlineno, name, fn) for name, fn in vars(module).items()
                       if callable(fn) and hasattr(fn, "fault_cases"))
        found += [(f"{path.name}::{name}{param}", c)
                  for _, name, fn in tests for param, c in fn.fault_cases]
    return found


def render(found: list[tuple[str, Case]]) -> str:
    lines = [
        "# Reliability: faults and what the pipeline does about them",
        "",
        "Generated from the fault suite `tests/faults` (`make reliability-doc`); "
        "`tests/faults/test_report.py` fails when this file differs from the suite's cases.",
        "Every case asserts the message, the exit status or exception, and that no good data "
        "was lost.",
        "",
        f"{len(found)} cases.",
        "",
        "| stage | fault | outcome | test |",
        "|---|---|---|---|",
    ]
    lines += [f"| {_cell(c.stage)} | {_cell(c.fault)} | {_cell(c.outcome)} | `{test}` |"
              for test, c in found]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
