"""Stage `evaluate`: the trained model and the eigenfaces baseline (and, for a model on face
embeddings, nearest prototype from all / `few_shot` train faces per star) on the star data
set's test split → `paths.reports` (evaluation.json, comparison.csv/png, confusion and
misclassified PNGs, DVC plot rows), logged to the training run; the promotion gate against
`paths.models/champion.json`, which it rewrites. A head on embeddings scores the embed
stage's vectors of the test faces; a CNN the TFRecord images. Robustness (robustness.json and
.png): the same on the test crops degraded at `evaluate.robustness.severities`, a head's
embedder re-embedding them, beside the fair baseline (the head retrained on degraded train
crops too); the model's mean over those severities is its `degraded` score in
evaluation.json, which the gate weighs with the clean one.
"""

from __future__ import annotations

import logging
import os
from functools import partial

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from starrec.artifacts import (
    CHAMPION,
    EVALUATION,
    HISTORY,
    MODEL,
    MODEL_META,
    RUN,
    embeddings_file,
)
from starrec.config import Config
from starrec.dataset.tfrecords import load_split, read_label_map
from starrec.errors import StageError
from starrec.evaluate.baseline import Eigenfaces, class_scores, fit_eigenfaces
from starrec.evaluate.compare_embedders import (
    plot_comparison,
    prototype_metrics,
    prototype_scores,
)
from starrec.evaluate.gate import (
    judge,
    read_champion,
    record,
    registered_champion,
    task_of,
    write_champion,
)
from starrec.evaluate.metrics import classification_metrics, metric_values
from starrec.evaluate.reports import (
    REPORT_FILES,
    load_model,
    log_evaluation,
    per_class_table,
    predict_probs,
    run_metrics,
    write_reports,
)
from starrec.evaluate.robustness import (
    CLEAN,
    check_embedded,
    degraded_copies,
    degraded_mean,
    fair_head,
    measure,
    plot_robustness,
    to_crops,
    views,
)
from starrec.evaluate.robustness import report as robustness_report
from starrec.faces.embed import embed_aligned, make_embedder
from starrec.faces.model_files import ModelFileError
from starrec.io import scratch_dir, write_json_atomic
from starrec.model_meta import MetaError, ModelMeta, read_meta
from starrec.stage import run_stage
from starrec.tracking import connect, read_run_json
from starrec.train.embedding_data import EmbeddingDataError, embeddings_of

log = logging.getLogger("starrec.evaluate")
COMPARISON_CSV, COMPARISON_PNG = "comparison.csv", "comparison.png"
ROBUSTNESS_JSON, ROBUSTNESS_PNG = "robustness.json", "robustness.png"


def main(cfg: Config) -> None:
    e, models, reports, tfrecords = (cfg.evaluate, cfg.paths.models, cfg.paths.reports,
                                     cfg.paths.tfrecords)
    run = read_run_json(models / RUN)
    if not (models / HISTORY).is_file():
        raise StageError(f"{models / HISTORY}: training history not found (run the train stage)")
    try:
        classes = read_label_map(tfrecords)
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{tfrecords}/label_map.json: cannot read ({exc!r})") from exc
    try:
        meta = read_meta(models / MODEL_META)
    except MetaError as exc:
        raise StageError(str(exc)) from exc
    if meta.classes != classes:
        raise StageError(f"{models / MODEL_META}: classes {meta.classes} are not the test "
                         f"split's {classes} ({tfrecords}); re-run train")
    x_test, y_test, test_ids = load_split(tfrecords, "test", with_ids=True)
    x_train, y_train, train_ids = load_split(tfrecords, "train", with_ids=True)
    model = load_model(models / MODEL)
    methods = {}  # extra ways of naming the test faces, by method name
    e_train = e_test = npz = None
    if meta.embedder is None:
        probs = predict_probs(model, x_test, len(classes), e.batch_size, models / MODEL)
    else:
        npz = cfg.paths.embeddings / embeddings_file(meta.embedder)
        try:
            e_train, e_test = embeddings_of(npz, train_ids, test_ids)
        except EmbeddingDataError as exc:
            raise StageError(str(exc)) from exc
        probs = predict_probs(model, e_test, len(classes), e.batch_size, models / MODEL)
        methods = {f"{meta.embedder}_{method}": m for method, m in prototype_metrics(
            e_train, y_train, e_test, y_test, e.few_shot, e.few_shot_draws, e.seed).items()}
    model_metrics = classification_metrics(y_test, probs.argmax(axis=1), probs, classes, e.top_k)
    log.info("%s on %d test faces: accuracy %.4f, macro F1 %.4f", meta.model, len(y_test),
             model_metrics["accuracy"], model_metrics["macro"]["f1"])

    baseline = fit_eigenfaces(x_train, y_train, e)
    scores = class_scores(baseline, x_test, len(classes))
    baseline_metrics = classification_metrics(y_test, scores.argmax(axis=1), scores, classes,
                                              e.top_k)
    baseline_metrics.update(cv_accuracy=baseline.cv_accuracy, pca_components=baseline.components)
    log.info("eigenfaces baseline: accuracy %.4f, macro F1 %.4f",
             baseline_metrics["accuracy"], baseline_metrics["macro"]["f1"])
    for method, m in methods.items():
        log.info("%s: accuracy %.4f, macro F1 %.4f", method, m["accuracy"], m["macro_f1"])
    extra = {"methods": methods} if methods else {}
    robustness, degraded = measure_robustness(
        cfg, meta, model, baseline, classes, (x_test, y_test, test_ids), (x_train, y_train),
        (e_train, e_test, npz))
    if degraded is not None:
        extra["degraded"] = degraded
    comparison = comparison_table({
        f"{meta.model} (the model)": summary(model_metrics),
        "eigenfaces (baseline)": summary(baseline_metrics), **methods})

    uri = connect(cfg.mlflow)
    if run.get("tracking_uri") and run["tracking_uri"] != uri:
        log.warning("run %s was logged to %s, not %s; logging there", run["run_id"],
                    run["tracking_uri"], uri)
        uri = run["tracking_uri"]
    client = MlflowClient(uri)
    try:
        recorded = read_champion(models / CHAMPION)
        champion = registered_champion(client, recorded)
    except MlflowException as exc:
        raise StageError(f"{uri}: cannot read the registry ({exc})") from exc
    gate, champion = judge(e.gate, champion, run, metric_values(model_metrics),
                           metric_values(baseline_metrics),
                           task_of(classes, test_ids, y_test, x_test), degraded,
                           absent=None if champion is not None or recorded is None else
                           "the recorded champion is not in this registry")
    report = {"model": model_metrics, "baseline": baseline_metrics, **extra, "gate": gate}
    # all reports appear together, only once the run has them
    with scratch_dir(reports / "evaluate") as staged:
        write_reports(staged, models / HISTORY, x_test, y_test, probs, classes,
                      e.misclassified_max)
        write_json_atomic(staged / EVALUATION, report)
        comparison.to_csv(staged / COMPARISON_CSV, index=False)
        plot_comparison(comparison, staged / COMPARISON_PNG,
                        f"Test split ({len(y_test)} faces, {len(classes)} classes): the model "
                        "against the baseline and nearest prototype",
                        baseline="eigenfaces (baseline)")
        write_json_atomic(staged / ROBUSTNESS_JSON, robustness)
        plot_robustness(robustness, staged / ROBUSTNESS_PNG,
                        f"Test split ({len(y_test)} faces) clean and degraded, seed "
                        f"{e.robustness.seed}", baseline="eigenfaces")
        numbers = {**run_metrics("model", model_metrics),
                   **run_metrics("eigenfaces", baseline_metrics),
                   **{k: v for method, m in methods.items()
                      for k, v in run_metrics(method, m).items()},
                   **{f"{name}/{severity}/{k}": v
                      for name, by in robustness["scores"].items()
                      for severity, m in by.items() if severity != CLEAN for k, v in m.items()},
                   **{f"model/degraded/{k}": v for k, v in (degraded or {}).get(
                       "metrics", {}).items()}}
        try:
            log_evaluation(client, run, numbers, per_class_table(
                {meta.model: model_metrics, "eigenfaces": baseline_metrics}),
                baseline.best_params, staged)
            for name in (ROBUSTNESS_JSON, ROBUSTNESS_PNG):
                client.log_artifact(run["run_id"], str(staged / name), "evaluate")
            record(client, gate, run, champion, cfg.predict.alias)
        except MlflowException as exc:
            raise StageError(f"{models / RUN}: MLflow run {run['run_id']}: {exc}") from exc
        for name in (*REPORT_FILES, COMPARISON_CSV, COMPARISON_PNG, ROBUSTNESS_JSON,
                     ROBUSTNESS_PNG):
            (reports / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / name, reports / name)
    write_champion(models / CHAMPION, champion)
    log.info("%s: metrics, plots and gate decision written", reports)


def measure_robustness(cfg: Config, meta: ModelMeta, model, baseline: Eigenfaces,
                       classes: list[str], test: tuple, train: tuple, embedded: tuple
                       ) -> tuple[dict, dict | None]:
    """robustness.json, and the model's degraded score for the gate ({severities, seed,
    metrics}; None when its embedder cuts its own input from the photo and cannot take the
    crops). `test` (images, labels, face ids), `train` (images, labels), `embedded` (train
    and test embeddings and their file, or Nones for a CNN)."""
    e, r = cfg.evaluate, cfg.evaluate.robustness
    (x_test, y_test, test_ids), (x_train, y_train), (e_train, e_test, npz) = test, train, embedded
    copies = degraded_copies(to_crops(x_test), r.severities, r.seed)
    n = len(classes)
    namers = {"eigenfaces": lambda v: class_scores(baseline, v.images, n)}
    embed = None
    if meta.embedder is None:
        namers = {meta.model: lambda v: predict_probs(model, v.images, n, e.batch_size,
                                                      cfg.paths.models / MODEL), **namers}
    elif (meta.embedder_input or {}).get("crop") != "aligned_5pt":
        log.warning("robustness: embedder %s cuts its own input from the photo; the model "
                    "is not scored on degraded crops", meta.embedder)
    else:
        try:
            embed = partial(embed_aligned, make_embedder(cfg.faces, cfg.download.http,
                                                         meta.embedder))
            check_embedded(e_test, embed(copies[CLEAN]), test_ids, npz)
        except (ModelFileError, ValueError) as exc:
            raise StageError(str(exc)) from exc
        namers = {meta.model: lambda v: predict_probs(model, v.embeddings, n, e.batch_size,
                                                      cfg.paths.models / MODEL),
                  f"{meta.embedder}_prototype": lambda v: prototype_scores(e_train, y_train,
                                                                           v.embeddings),
                  **namers}
        if r.augmented_copies:
            t = cfg.train
            fair = fair_head(to_crops(x_train), e_train, y_train, r.augmented_copies, embed,
                             t.finetune.degrade, t.embedding_head, t.seed)
            namers[f"{meta.embedder}_head_augmented"] = lambda v: fair.predict(
                v.embeddings, batch_size=e.batch_size, verbose=0)
    scores = measure(views(copies, x_test.shape[-1], embed, e_test), y_test, classes, e.top_k,
                     namers)
    for name, by in scores.items():
        log.info("robustness %s: accuracy %s", name,
                 ", ".join(f"{s} {m['accuracy']:.3f}" for s, m in by.items()))
    degraded = None if meta.model not in scores else {
        "severities": list(copies), "seed": r.seed, "metrics": degraded_mean(scores[meta.model])}
    return robustness_report(scores, len(y_test), r.seed, copies), degraded


def summary(metrics: dict) -> dict[str, float]:
    return {"accuracy": float(metrics["accuracy"]), "macro_f1": float(metrics["macro"]["f1"])}


def comparison_table(scores: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Tidy rows (embedder, method, metric, value) for plot_comparison: one bar group per
    way of naming the test faces."""
    return pd.DataFrame([(name, "", metric, value) for name, m in scores.items()
                         for metric, value in m.items()],
                        columns=["embedder", "method", "metric", "value"])


if __name__ == "__main__":
    run_stage(main)
