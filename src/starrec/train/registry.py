"""The train stage's MLflow run: resume the run an interrupted training was logging to, and
log + register the Keras model with the `candidate` alias."""

from __future__ import annotations

import io
import tempfile
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
                    artifacts: list[Path], name: str) -> int:
    """Into the active run: `artifacts`, the model summary and label map, the keras-flavour
    model (signature + input example); registered as `name` with alias `candidate`.
    Returns the registered version."""
    for file in artifacts:
        mlflow.log_artifact(str(file))
    summary = io.StringIO()
    model.summary(print_fn=lambda line, *a, **k: summary.write(line + "\n"))
    mlflow.log_text(summary.getvalue(), "model_summary.txt")
    mlflow.log_dict({"classes": classes}, LABEL_MAP)
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
