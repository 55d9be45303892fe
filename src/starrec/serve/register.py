"""Registering the serving model: what the calibrate stage does last, once the unknown
threshold it needs is known."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient

from starrec.artifacts import CANDIDATE, CHAMPION, OPEN_SET, RUN
from starrec.config import PredictParams
from starrec.evaluate.gate import read_champion
from starrec.serve.pyfunc import log_pyfunc
from starrec.tracking import read_run_json, use_tracking_uri

log = logging.getLogger(__name__)


def register_pyfunc(model_dir: Path, reports_dir: Path, report: dict[str, Any],
                    face_files: dict[str, Path], params: PredictParams) -> dict[str, Any]:
    """The calibrate stage's end: the open-set figures and reports to the training run
    (`model_dir`/run.json), the pyfunc model logged and registered with alias `candidate`,
    and `params.alias` when models/champion.json records this run as the champion (the
    gate promoted it); returns the pyfunc.json record."""
    run = read_run_json(model_dir / RUN)
    champion = read_champion(model_dir / CHAMPION)
    use_tracking_uri(run["tracking_uri"])
    at = report["test"]["at_threshold"]
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics({"open_set/threshold": report["threshold"],
                            "open_set/val/precision": report["precision"],
                            "open_set/val/known_named": report["known_named"],
                            "open_set/val/unknown_rejected": report["unknown_rejected"],
                            **{f"open_set/test/{k}": v for k, v in at.items()
                               if k != "threshold" and v == v}})
        for name in (OPEN_SET, "open_set.png"):
            mlflow.log_artifact(str(reports_dir / name), artifact_path="reports")
        info = log_pyfunc(model_dir, params, face_files)
    client = MlflowClient()
    version = str(info.registered_model_version)
    client.set_registered_model_alias(params.registered_model, CANDIDATE, version)
    promoted = champion is not None and champion["run_id"] == run["run_id"]
    if promoted:
        client.set_registered_model_alias(params.registered_model, params.alias, version)
    log.info("pyfunc model %s version %s registered (%s)", params.registered_model, version,
             f"alias {params.alias}" if promoted
             else f"not {params.alias}: evaluate did not promote it")
    return {"model_uri": info.model_uri, "registered_model": params.registered_model,
            "model_version": version,
            "aliases": [CANDIDATE] + ([params.alias] if promoted else [])}
