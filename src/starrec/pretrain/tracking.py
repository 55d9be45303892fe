"""MLflow for the pretrain stage: its own run, and the backbone registered as its own model."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from starrec.config import MlflowParams, PretrainParams

log = logging.getLogger(__name__)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def log_to_mlflow(cfg: PretrainParams, tracking: MlflowParams, models_dir: Path,
                  report: dict[str, Any], history: dict[str, list[float]]) -> dict[str, Any]:
    """Params, per-epoch loss/accuracy, verification figures, report and backbone (keras
    flavour, registered as `cfg.registered_model`); returns run id and model version."""
    import keras
    import mlflow
    from mlflow.models import infer_signature

    uri = os.environ.get("MLFLOW_TRACKING_URI") or tracking.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(tracking.experiment)
    with mlflow.start_run(run_name="pretrain", tags={"stage": "pretrain"}) as run:
        mlflow.log_params(flatten(cfg.model_dump(mode="json"), "pretrain."))
        for name, values in history.items():
            for epoch, value in enumerate(values):
                mlflow.log_metric(f"pretrain_{name}", value, step=epoch)
        v = report["verification"]
        mlflow.log_metrics({"verify_roc_auc": v["roc_auc"], "verify_accuracy": v["accuracy"],
                            "verify_threshold": v["threshold"],
                            "identities_train": report["identities"]["train"],
                            "identities_held_out": report["identities"]["held_out"],
                            "train_seconds": report["timing"]["train_seconds"]})
        mlflow.log_dict(report, "backbone_report.json")
        for name in ("backbone_meta.json",):
            mlflow.log_artifact(str(models_dir / name))
        backbone = keras.saving.load_model(models_dir / "backbone.keras", compile=False)
        example = np.zeros((1, *backbone.input_shape[1:]), dtype=np.float32)
        info = mlflow.keras.log_model(
            backbone, name="backbone",
            signature=infer_signature(example, backbone.predict(example, verbose=0)),
            registered_model_name=cfg.registered_model)
    log.info("MLflow run %s; backbone registered as %s version %s", run.info.run_id,
             cfg.registered_model, info.registered_model_version)
    return {"tracking_uri": uri, "run_id": run.info.run_id, "model_uri": info.model_uri,
            "registered_model": cfg.registered_model,
            "model_version": str(info.registered_model_version)}
