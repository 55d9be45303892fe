"""The random draw of a search: values of values, no I/O.

A range on a log scale is drawn log-uniformly (as likely in [1e-4, 1e-3] as in
[1e-3, 1e-2]); numbers are kept to 3 significant digits, so they read well in
`dvc exp show` and pass through `-S key=value` and params.yaml unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from starrec.config import SearchChoices, SearchRange

Trial = dict[str, Any]


def draw(space: dict[str, SearchRange | SearchChoices], trials: int, seed: int) -> list[Trial]:
    """`trials` points of `space` (param -> range or choices); the same seed, the same points."""
    rng = np.random.default_rng(seed)
    return [{name: _one(dim, rng) for name, dim in space.items()} for _ in range(trials)]


def _one(dim: SearchRange | SearchChoices, rng: np.random.Generator) -> Any:
    if isinstance(dim, SearchChoices):
        return dim.choices[int(rng.integers(len(dim.choices)))]
    if dim.scale == "log":
        value = math.exp(rng.uniform(math.log(dim.low), math.log(dim.high)))
    else:
        value = rng.uniform(dim.low, dim.high)
    return min(max(float(f"{value:.3g}"), dim.low), dim.high)


def set_args(trial: Trial) -> list[str]:
    """The trial as `dvc exp run` arguments: -S param=value ..."""
    return [arg for name, value in trial.items() for arg in ("-S", f"{name}={value}")]


def unknown_params(space: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The searched names that are not a key of `params` (nested dicts, dotted names)."""
    def known(name: str) -> bool:
        node: Any = params
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True
    return [name for name in space if not known(name)]
