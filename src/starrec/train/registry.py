"""The train stage's MLflow run: resume the run an interrupted training was logging to, and
log + register the Keras model with the `candidate` alias."""

from __future__ import annotations

import io
from pathlib import Path

import keras
import mlflow
import numpy as np
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from starrec.artifacts import CANDIDATE, LABEL_MAP
from starrec.tracking import pip_requirements

RUN_ID_FILE = "mlflow_run_id"  # in the checkpoint dir: a resumed run logs to the same run


def resumable_run_id(checkpoints: Path) -> str | None:
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


def remember_run(checkpoints: Path, run_id: str) -> None:
    (checkpoints / RUN_ID_FILE).write_text(run_id)


def log_keras_model(model: keras.Model, example: np.ndarray, classes: list[str],
                    artifacts: list[Path], name: str) -> tuple[int, str]:
    """Into the active run: `artifacts`, the model summary and label map, and the model as a
    logged model (keras flavour, signature from `example`: the run's and experiment's Models
    views list it), registered as `name` with alias `candidate`. Returns the registered
    version and the logged model's id (test metrics are linked to it)."""
    for file in artifacts:
        mlflow.log_artifact(str(file))
    summary = io.StringIO()
    model.summary(print_fn=lambda line, *a, **k: summary.write(line + "\n"))
    mlflow.log_text(summary.getvalue(), "model_summary.txt")
    mlflow.log_dict({"classes": classes}, LABEL_MAP)
    signature = infer_signature(example, np.asarray(model.predict(example, verbose=0)))
    # no input_example: mlflow 3.17's keras log_model writes it before making its model
    # dir (FileNotFoundError); the signature carries the input's shape and dtype
    info = mlflow.keras.log_model(model, name="model", signature=signature,
                                  pip_requirements=pip_requirements(),
                                  registered_model_name=name)
    version = int(info.registered_model_version)
    MlflowClient().set_registered_model_alias(name, CANDIDATE, str(version))
    return version, info.model_id
