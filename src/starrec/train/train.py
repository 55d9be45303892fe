"""The `train` stage: build, fit, save and track one model.

Outputs in `models_dir`: model.keras, model_meta.json, history.csv, learning_curves.png and,
last, run.json (the MLflow run and registered version that evaluate resumes).
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from starrec.config import AugmentParams, ExtractParams, MlflowParams, TrainParams
from starrec.dataset.augment import online_augmentation_layers
from starrec.dataset.tfrecords import read_schema
from starrec.io import write_json_atomic
from starrec.tracking import connect, flatten_params, run_tags, write_run_json
from starrec.train.data import TrainData, load_data
from starrec.train.devices import setup_devices
from starrec.train.fit import compile_model, discard_stale_checkpoints, fit_model, run_fingerprint
from starrec.train.models import BACKBONE_FILE, build_model
from starrec.train.report import plot_learning_curves, write_history

log = logging.getLogger(__name__)
CANDIDATE = "candidate"
RUN_ID_FILE = "mlflow_run_id"  # in the checkpoint dir: a resumed run logs to the same run


def save_keras(model: keras.Model, target: Path) -> None:
    """Keras insists on a `.keras` name: save into a temp dir beside `target`, then rename."""
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as tmp:
        model.save(Path(tmp) / target.name)
        os.replace(Path(tmp) / target.name, target)


def model_meta(data: TrainData, extract: ExtractParams | None, cfg: TrainParams) -> dict[str, Any]:
    """What prediction needs beside the .keras file: output order, input size, crop params."""
    height, width, channels = data.input_shape
    return {"classes": data.classes, "image_size": height, "image_shape": [height, width, channels],
            "channels": channels, "input_range": [0.0, 1.0], "model": cfg.model,
            "extract": extract.model_dump(mode="json") if extract else None}


def pip_requirements() -> list[str]:
    """Pinned from the running environment: logging the model without mlflow's slow inference."""
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for dist in ("mlflow", "keras", "tensorflow", "tensorflow-cpu", "numpy"):
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return reqs


def train_and_log(cfg: TrainParams, mlflow_cfg: MlflowParams, tfrecord_dir: Path,
                  augmented_dir: Path | None, models_dir: Path, *,
                  extract: ExtractParams | None = None, augment: AugmentParams | None = None,
                  params: Mapping[str, Any] | None = None, dataset: str = "",
                  repo_dir: Path = Path(".")) -> dict[str, Any]:
    """Train `cfg.model` on the TFRecords, write the outputs and log one MLflow run.

    `params`: everything to log as run params (the whole config), flattened; `extract`: the
    face-crop params stored in model_meta.json; `augment`: ranges of the online augmentation
    layer (`train.online_augmentation`). Returns the run.json content.
    """
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    checkpoints = models_dir / "checkpoints"
    uri = connect(mlflow_cfg)  # fail fast, before any training time is spent

    strategy = setup_devices(cfg)
    augment_layer = None
    if cfg.online_augmentation:
        channels = int(read_schema(Path(tfrecord_dir))["image"]["channels"])
        augment_layer = online_augmentation_layers(augment or AugmentParams(), channels)
    data = load_data(cfg, tfrecord_dir, augmented_dir, augment_layer)
    with strategy.scope():
        model = build_model(cfg, data.input_shape, len(data.classes),
                            pretrained=models_dir / BACKBONE_FILE)
        compile_model(model, cfg)

    discard_stale_checkpoints(checkpoints, run_fingerprint(model, cfg, data))
    run_id = _resumable_run_id(checkpoints)
    with mlflow.start_run(run_id=run_id) as run:
        (checkpoints / RUN_ID_FILE).write_text(run.info.run_id)
        if run_id is None:
            logged = params or {"train": cfg.model_dump(mode="json")}
            mlflow.log_params(flatten_params(dict(logged)))
            mlflow.set_tags(run_tags(repo_dir, dataset, data.sizes))
        start = time.perf_counter()
        history = fit_model(model, cfg, data, checkpoints)
        seconds = time.perf_counter() - start
        best = int(history["val_loss"].idxmin())
        log.info("trained %d epochs in %.0f s; best val_loss %.4f (val accuracy %.4f) at "
                 "epoch %d", len(history), seconds, history["val_loss"][best],
                 history["val_accuracy"][best], best + 1)
        mlflow.log_metrics({"train_seconds": seconds, "best_epoch": best + 1,
                            "best_val_loss": float(history["val_loss"][best]),
                            "best_val_accuracy": float(history["val_accuracy"][best])})

        meta = model_meta(data, extract, cfg)
        save_keras(model, models_dir / "model.keras")
        write_json_atomic(models_dir / "model_meta.json", meta)
        write_history(history, models_dir / "history.csv")
        plot_learning_curves(history, models_dir / "learning_curves.png",
                             f"{cfg.model}: {len(data.classes)} classes")
        version = _log_model(model, data, models_dir, mlflow_cfg.registered_model)
        info = {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
                "tracking_uri": uri, "registered_model": mlflow_cfg.registered_model,
                "model_version": version}
    write_run_json(models_dir, **info)
    log.info("MLflow run %s; registered %s version %s as %r", info["run_id"],
             mlflow_cfg.registered_model, version, CANDIDATE)
    return info


def _resumable_run_id(checkpoints: Path) -> str | None:
    """The run an interrupted training was logging to, if it is still there to resume."""
    path = checkpoints / RUN_ID_FILE
    if not path.is_file():
        return None
    run_id = path.read_text().strip()
    try:
        mlflow.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return None
    return run_id


def _log_model(model: keras.Model, data: TrainData, models_dir: Path, name: str) -> int:
    """Artifacts, the keras-flavour model (signature + input example), registry + alias."""
    for file in ("learning_curves.png", "history.csv", "model_meta.json"):
        mlflow.log_artifact(str(models_dir / file))
    summary = io.StringIO()
    model.summary(print_fn=lambda line, *a, **k: summary.write(line + "\n"))
    mlflow.log_text(summary.getvalue(), "model_summary.txt")
    mlflow.log_dict({"classes": data.classes}, "label_map.json")
    example = next(iter(data.val.take(1)))[0].numpy()[:2]
    signature = infer_signature(example, np.asarray(model.predict(example, verbose=0)))
    # mlflow 3.17's keras log_model writes the input example before creating its model dir
    # (FileNotFoundError), so save the flavour into a dir made here, then log and register it.
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.keras.save_model(model, tmp, signature=signature, input_example=example,
                                pip_requirements=pip_requirements())
        mlflow.log_artifacts(tmp, "model")
    run_id = mlflow.active_run().info.run_id
    version = int(mlflow.register_model(f"runs:/{run_id}/model", name).version)
    MlflowClient().set_registered_model_alias(name, CANDIDATE, str(version))
    return version
