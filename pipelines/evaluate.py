"""Stage `evaluate`: the trained CNN, the eigenfaces baseline and (with
`evaluate.compare_pretrained`) the pretrained backbone on the star data set's test split →
`paths.reports` (metrics.json, confusion and misclassified PNGs, DVC plot rows), logged to
the training run; the promotion gate against `paths.models/champion.json`, which it rewrites.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import keras
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from starrec.artifacts import BACKBONE, CHAMPION, HISTORY, METRICS, MODEL, RUN
from starrec.config import Config
from starrec.dataset.tfrecords import load_split, read_label_map
from starrec.evaluate.baseline import class_scores, fit_eigenfaces
from starrec.evaluate.gate import judge, read_champion, record, write_champion
from starrec.evaluate.metrics import classification_metrics, metric_values
from starrec.evaluate.pretrained import pretrained_metrics
from starrec.evaluate.reports import (
    REPORT_FILES,
    load_model,
    log_evaluation,
    predict_probs,
    write_reports,
)
from starrec.io import write_json_atomic
from starrec.stage import StageError, run_stage
from starrec.tracking import connect, read_run_json

log = logging.getLogger("starrec.evaluate")


def main(cfg: Config) -> None:
    e, models, reports = cfg.evaluate, cfg.paths.models, cfg.paths.reports
    run = read_run_json(models / RUN)
    if not (models / HISTORY).is_file():
        raise StageError(f"{models / HISTORY}: training history not found (run the train stage)")
    try:
        classes = read_label_map(cfg.paths.tfrecords)
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{cfg.paths.tfrecords}/label_map.json: cannot read ({exc!r})") from exc
    x_test, y_test = load_split(cfg.paths.tfrecords, "test")
    probs = predict_probs(load_model(models / MODEL), x_test, len(classes), e.batch_size,
                          models / MODEL)
    model_metrics = classification_metrics(y_test, probs.argmax(axis=1), probs, classes, e.top_k)
    log.info("CNN on %d test faces: accuracy %.4f, macro F1 %.4f", len(y_test),
             model_metrics["accuracy"], model_metrics["macro"]["f1"])

    x_train, y_train = load_split(cfg.paths.tfrecords, "train")
    baseline = fit_eigenfaces(x_train, y_train, e)
    scores = class_scores(baseline, x_test, len(classes))
    baseline_metrics = classification_metrics(y_test, scores.argmax(axis=1), scores, classes,
                                              e.top_k)
    baseline_metrics.update(cv_accuracy=baseline.cv_accuracy, pca_components=baseline.components)
    log.info("eigenfaces baseline: accuracy %.4f, macro F1 %.4f",
             baseline_metrics["accuracy"], baseline_metrics["macro"]["f1"])
    extra = {}
    if e.compare_pretrained:
        backbone = models / BACKBONE
        if not backbone.is_file():
            raise StageError(f"{backbone}: backbone not found (run the pretrain stage, or set "
                             "evaluate.compare_pretrained: false)")
        extra["pretrained"] = pretrained_metrics(
            keras.saving.load_model(backbone, compile=False), x_train, y_train, x_test, y_test,
            classes, e)

    gate, champion = judge(e.gate, read_champion(models / CHAMPION), run,
                           metric_values(model_metrics), metric_values(baseline_metrics))
    report = {"model": model_metrics, "baseline": baseline_metrics, **extra, "gate": gate}
    reports.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".evaluate.", dir=reports) as tmp:
        staged = Path(tmp)  # all reports appear together, only once the run has them
        write_reports(staged, models / HISTORY, x_test, y_test, probs, classes,
                      e.misclassified_max)
        write_json_atomic(staged / METRICS, report)
        uri = connect(cfg.mlflow)
        if run.get("tracking_uri") and run["tracking_uri"] != uri:
            log.warning("run %s was logged to %s, not %s; logging there", run["run_id"],
                        run["tracking_uri"], uri)
            uri = run["tracking_uri"]
        numbers = {**metric_values(model_metrics, "test_"),
                   **metric_values(baseline_metrics, "baseline_"), **metric_values(extra)}
        try:
            client = MlflowClient(uri)
            log_evaluation(client, run["run_id"], numbers, baseline.best_params, staged)
            record(client, gate, run, champion, cfg.predict.alias)
        except MlflowException as exc:
            raise StageError(f"{models / RUN}: MLflow run {run['run_id']}: {exc}") from exc
        for name in REPORT_FILES:
            (reports / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / name, reports / name)
    write_champion(models / CHAMPION, champion)
    log.info("%s: metrics, plots and gate decision written", reports)


if __name__ == "__main__":
    run_stage(main)
