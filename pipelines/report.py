"""Stage `report`: the detailed reports of evaluate and calibrate → `paths.reports`
metrics.json (the headline numbers `dvc metrics show` displays) and model_card.md; in
MLflow, the training run's description and card, and the registered versions (Keras model
and pyfunc) tagged with commit, data hashes and test figures, the card as their description.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from starrec.artifacts import EVALUATION, METRICS, MODEL_CARD, MODEL_META, OPEN_SET, PYFUNC, RUN
from starrec.config import Config
from starrec.errors import StageError
from starrec.evaluate.card import model_card, run_description
from starrec.evaluate.headline import headline
from starrec.evaluate.publish import provenance, publish
from starrec.io import atomic_path, write_json_atomic
from starrec.model_meta import MetaError, read_meta
from starrec.stage import run_stage
from starrec.tracking import read_run_json

log = logging.getLogger("starrec.report")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StageError(f"{path}: cannot read ({exc})") from exc


def main(cfg: Config) -> None:
    models, reports = cfg.paths.models, cfg.paths.reports
    evaluation = read_json(reports / EVALUATION)
    numbers = headline(evaluation, read_json(reports / OPEN_SET))
    write_json_atomic(reports / METRICS, numbers)
    run, pyfunc = read_run_json(models / RUN), read_json(models / PYFUNC)
    try:
        meta = read_meta(models / MODEL_META)
    except MetaError as exc:
        raise StageError(str(exc)) from exc
    client = MlflowClient(run["tracking_uri"])
    try:
        tags = provenance(client.get_run(run["run_id"]).data.tags)
        title = f"{run['registered_model']} v{run['model_version']}"
        gate = evaluation["gate"]["reason"]
        # the pretrained files train recorded (finetune: SFace's weights are inside the model)
        card = model_card(title, meta.model or "", meta.classes or [], tags, numbers, gate,
                          meta.licences or {})
        with atomic_path(reports / MODEL_CARD) as tmp:
            tmp.write_text(card)
        publish(client, run["run_id"],
                {run["registered_model"]: str(run["model_version"]),
                 pyfunc["registered_model"]: str(pyfunc["model_version"])},
                card, run_description(title, numbers, gate),
                {**tags, **{k: f"{v:.4f}" for k, v in numbers.items()}})
    except MlflowException as exc:
        raise StageError(f"{models / RUN}: MLflow run {run['run_id']}: {exc}") from exc
    log.info("%s: %s", reports / METRICS, ", ".join(f"{k} {v}" for k, v in numbers.items()))


if __name__ == "__main__":
    run_stage(main)
