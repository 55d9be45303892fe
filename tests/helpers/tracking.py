"""A real MLflow sqlite store per test, its artifacts beside it (never `mlruns/` in the repo);
tests/conftest.py puts the global tracking state back after every test, `using` after a
module's fixture."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from helpers.params import section
from starrec.config import MlflowParams


def store(root: Path, experiment: str = "test", **overrides) -> MlflowParams:
    """`mlflow` params for a fresh sqlite store in `root`, whose experiment keeps its
    artifacts in `root/artifacts`."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri)
    if client.get_experiment_by_name(experiment) is None:
        client.create_experiment(experiment, artifact_location=(root / "artifacts").as_uri())
    return section("mlflow", tracking_uri=uri, experiment=experiment, **overrides)


@contextmanager
def restored() -> Iterator[None]:
    """The global tracking URI (and the MLFLOW_TRACKING_URI that mlflow.set_tracking_uri
    exports) and any run left open are put back after the block, pass or fail."""
    previous, env = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    try:
        yield
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)
        if env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env


@contextmanager
def using(uri: str) -> Iterator[None]:
    """mlflow pointed at `uri` for a block (a module fixture's store), then back as it was."""
    with restored():
        mlflow.set_tracking_uri(uri)
        yield
