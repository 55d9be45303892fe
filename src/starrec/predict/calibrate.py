"""Stage `calibrate`: the open-set threshold, its report, and the registered pyfunc model.

Runs after evaluate so the pyfunc's `champion` alias can follow the Keras model's
promotion: it moves only when evaluate made this run's model the champion.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from starrec.config import Config
from starrec.io import write_json_atomic
from starrec.predict.classifier import Classifier
from starrec.predict.model_io import OPEN_SET_NAME, KerasClassifier, ModelLoadError
from starrec.predict.openset import calibrate, plot_tradeoff, tradeoff
from starrec.predict.unknown import unknown_faces
from starrec.stage import StageError

log = logging.getLogger(__name__)


def split_probs(classifier: Classifier, tfrecords: Path, split: str,
                batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Class scores and labels (in the classifier's class order) for one TFRecord split."""
    from starrec.dataset.tfrecords import list_shards, make_dataset, read_label_map

    try:
        files = list_shards(tfrecords, split)
        names = read_label_map(tfrecords)
    except (OSError, KeyError, ValueError) as exc:
        raise StageError(f"{tfrecords}: cannot read the {split} split ({exc})") from exc
    missing = set(names) - set(classifier.classes)
    if missing:
        raise StageError(f"{tfrecords}: classes {sorted(missing)} are not in the model")
    order = {c: i for i, c in enumerate(classifier.classes)}
    probs, labels = [], []
    for images, y in make_dataset(files, batch_size=batch_size, cache=False):
        probs.append(classifier.predict_proba(images.numpy()))
        labels.append([order[names[int(v)]] for v in y.numpy()])
    return np.concatenate(probs), np.concatenate(labels).astype(np.int64)


def calibration_people(people: list[str], share: float, seed: int) -> set[str]:
    """A seeded `share` of the held-out people (at least one, and one left for the report)."""
    names = sorted(set(people))
    if share <= 0 or len(names) < 2:
        return set()
    n = min(max(1, round(share * len(names))), len(names) - 1)
    return {names[i] for i in np.random.default_rng(seed).permutation(len(names))[:n]}


def run_calibrate(cfg: Config) -> dict[str, Any]:
    """Calibrate on val + some held-out people, report on test + the other held-out people,
    log and register the pyfunc."""
    p, models, reports = cfg.predict, cfg.paths.models, cfg.paths.reports
    try:
        classifier = KerasClassifier.from_files(models / "model.keras", batch_size=p.batch_size)
    except ModelLoadError as exc:
        raise StageError(str(exc)) from exc
    images, people = unknown_faces(p.unknown, classifier)
    unknown = (classifier.predict_proba(images) if len(images)
               else np.empty((0, len(classifier.classes))))
    calib = calibration_people(people, p.unknown.calibration_share, p.unknown.seed)
    in_calib = np.array([person in calib for person in people], bool)

    val = split_probs(classifier, cfg.paths.tfrecords, "val", p.batch_size)
    cal = calibrate(*val, p.score, p.target_precision, unknown[in_calib], p.unknown.prior)
    write_json_atomic(models / OPEN_SET_NAME, cal.to_json())
    log.info("open set: %s >= %.4f keeps %.1f%% of val faces and rejects %.1f%% of %d faces "
             "of %d calibration people, precision %.3f (target %.2f)", p.score,
             cal.rule.threshold, 100 * cal.coverage, 100 * cal.unknown_rejected,
             cal.n_unknown, len(calib), cal.precision, p.target_precision)

    test = split_probs(classifier, cfg.paths.tfrecords, "test", p.batch_size)
    report_people = sorted(set(people) - calib)
    report = {**cal.to_json(), "test": tradeoff(*test, unknown[~in_calib], cal.rule),
              "unknown_people": {"path": p.unknown.path, "n_people": len(set(people)),
                                 "n_faces": len(people), "calibration_people": sorted(calib),
                                 "report_people": report_people}}
    write_json_atomic(reports / "open_set.json", report)
    plot_tradeoff(*test, unknown[~in_calib], cal.rule, reports / "open_set.png")
    at = report["test"]["at_threshold"]
    log.info("test: known accuracy %.3f (closed set %.3f), known rejected %.3f, unknown "
             "rejected %.3f over %d faces of %d other held-out people", at["known_accuracy"],
             report["test"]["closed_set_accuracy"], at["known_rejected"],
             at["unknown_rejected"], int((~in_calib).sum()), len(report_people))
    register(cfg, report)
    return report


def register(cfg: Config, report: dict[str, Any]) -> None:
    """Log figures + the pyfunc model to the train run; alias `candidate`, and `champion`
    when evaluate promoted this run's Keras model."""
    import mlflow
    from mlflow import MlflowClient

    from starrec.predict.serving import log_pyfunc

    models, p = cfg.paths.models, cfg.predict
    run = json.loads((models / "run.json").read_text())
    mlflow.set_tracking_uri(run["tracking_uri"])
    at = report["test"]["at_threshold"]
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics({"open_set_threshold": report["threshold"],
                            "open_set_val_precision": report["val"]["precision"],
                            "open_set_val_coverage": report["val"]["coverage"],
                            **{f"open_set_test_{k}": v for k, v in at.items()
                               if k != "threshold" and v == v}})
        for name in ("open_set.json", "open_set.png"):
            mlflow.log_artifact(str(cfg.paths.reports / name), artifact_path="reports")
        info = log_pyfunc(models, p)
    client = MlflowClient()
    version = str(info.registered_model_version)
    client.set_registered_model_alias(p.registered_model, "candidate", version)
    promoted = _is_champion(client, run["registered_model"], run["run_id"])
    if promoted:
        client.set_registered_model_alias(p.registered_model, p.alias, version)
    log.info("pyfunc model %s version %s registered (%s)", p.registered_model, version,
             f"alias {p.alias}" if promoted else f"not {p.alias}: evaluate did not promote it")
    write_json_atomic(models / "pyfunc.json", {
        "model_uri": info.model_uri, "registered_model": p.registered_model,
        "model_version": version, "aliases": ["candidate"] + ([p.alias] if promoted else [])})


def _is_champion(client: Any, keras_model: str, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(keras_model, "champion").run_id == run_id
    except MlflowException:
        return False
