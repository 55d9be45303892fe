"""A real MLflow sqlite store per test, its artifacts beside it (never `mlruns/` in the repo),
and the global tracking state put back afterwards."""

from __future__ import annotations

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
    """Run a block that may point mlflow elsewhere or leave a run open; undo both after."""
    previous = mlflow.get_tracking_uri()
    try:
        yield
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)
