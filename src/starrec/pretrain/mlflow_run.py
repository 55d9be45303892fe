"""MLflow for the pretrain stage: its own run, open while it works, and the backbone
registered as its own model."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.models import infer_signature

from starrec.config import MlflowParams, PretrainParams
from starrec.tracking import connect, flatten_params, pip_requirements, run_name

log = logging.getLogger(__name__)


@contextmanager
def pretrain_run(cfg: PretrainParams, tracking: MlflowParams) -> Iterator[str]:
    """The stage's MLflow run, open for all of its work (so its duration is the stage's),
    with its params; yields the tracking URI."""
    uri = connect(tracking)
    with mlflow.start_run(run_name=run_name("pretrain", "backbone", Path(".")),
                          tags={"stage": "pretrain"}):
        mlflow.log_params(flatten_params({"pretrain": cfg.model_dump(mode="json")}))
        yield uri


def log_to_mlflow(cfg: PretrainParams, uri: str, backbone: keras.Model, report: dict[str, Any],
                  history: dict[str, list[float]], artifacts: list[Path]) -> dict[str, Any]:
    """Into the active run (`pretrain_run`): per-epoch loss/accuracy (step = epoch from 1),
    verification figures, report, `artifacts` and the backbone (keras flavour, registered
    as `cfg.registered_model`); returns the run id and model version."""
    run = mlflow.active_run()
    for name, values in history.items():
        for epoch, value in enumerate(values, start=1):
            mlflow.log_metric(f"pretrain_{name}", value, step=epoch)
    v = report["verification"]
    mlflow.log_metrics({"verify_roc_auc": v["roc_auc"], "verify_accuracy": v["accuracy"],
                        "verify_threshold": v["threshold"],
                        "identities_train": report["identities"]["train"],
                        "identities_held_out": report["identities"]["held_out"],
                        "train_seconds": report["timing"]["train_seconds"]})
    mlflow.log_dict(report, "backbone_report.json")
    for file in artifacts:
        mlflow.log_artifact(str(file))
    example = np.zeros((1, *backbone.input_shape[1:]), dtype=np.float32)
    info = mlflow.keras.log_model(
        backbone, name="backbone",
        signature=infer_signature(example, backbone.predict(example, verbose=0)),
        pip_requirements=pip_requirements(), registered_model_name=cfg.registered_model)
    log.info("MLflow run %s; backbone registered as %s version %s", run.info.run_id,
             cfg.registered_model, info.registered_model_version)
    return {"tracking_uri": uri, "run_id": run.info.run_id, "model_uri": info.model_uri,
            "registered_model": cfg.registered_model,
            "model_version": str(info.registered_model_version)}
