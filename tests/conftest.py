"""Shared fixtures: where the real data sets live, and quiet, offline-safe env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _key, _value in {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}.items():
    os.environ.setdefault(_key, _value)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """`../shared/datasets` beside the repo, or STARREC_SHARED_DATASETS."""
    path = Path(os.environ.get("STARREC_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
    if not path.is_dir():
        pytest.fail(f"{path}: shared datasets not found (set STARREC_SHARED_DATASETS)")
    return path
