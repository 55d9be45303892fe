"""Params for tests: always params.yaml's own values, with the few a test changes.

Built through the same validation as the stages' (`starrec.config.parse_config`), so a test
never runs on a value params.yaml would refuse, nor on a second set of defaults.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from helpers.paths import PARAMS
from starrec.artifacts import PUBLIC, STARS
from starrec.config import Config, parse_config

# the result cache of the stages tests run in-process: this session's own, never the repo's
FACE_CACHE = Path(tempfile.mkdtemp(prefix="starrec-test-face-cache-"))
atexit.register(shutil.rmtree, FACE_CACHE, ignore_errors=True)


def raw_params() -> dict[str, Any]:
    params = yaml.safe_load(PARAMS.read_text())
    params["face_cache"]["dir"] = str(FACE_CACHE)
    return params


def deep_update(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` merged into a copy of `base`, nested dicts key by key."""
    out = dict(base)
    for key, value in update.items():
        out[key] = (deep_update(out[key], value)
                    if isinstance(value, dict) and isinstance(out.get(key), dict) else value)
    return out


def config(dataset: str = STARS, **overrides: Any) -> Config:
    """params.yaml with `overrides` (nested dicts, e.g. train={"epochs": 2}) merged in."""
    return parse_config(deep_update(raw_params(), overrides), PARAMS, dataset)


def section(name: str, **overrides: Any) -> Any:
    """One validated section, e.g. section("train", epochs=2, optimizer={"name": "sgd"})."""
    cfg = config(**{name: overrides})
    return getattr(cfg, "validate_" if name == "validate" else name)


def paths_under(root: Path) -> dict[str, Any]:
    """Overrides putting every stage output of every data set under `root`."""
    def data(prefix: str) -> dict[str, str]:
        return {k: str(root / prefix / k) for k in ("raw", "faces", "validation", "splits",
                                                     "tfrecords", "embeddings")}

    return {"datasets": {STARS: {"paths": data("data")}, PUBLIC: {"paths": data("data/public")}},
            "paths": {"augmented": str(root / "data/augmented"), "models": str(root / "models"),
                      "reports": str(root / "reports")}}


def stage_config(root: Path, dataset: str = STARS, **overrides: Any) -> Config:
    """`config` with every output under `root` (then `overrides`)."""
    return config(dataset, **deep_update(paths_under(root), overrides))


def write_params(directory: Path, **overrides: Any) -> Path:
    """params.yaml with `overrides` in `directory` (for running a stage script there)."""
    path = Path(directory) / "params.yaml"
    path.write_text(yaml.safe_dump(deep_update(raw_params(), overrides), sort_keys=False))
    return path
