"""Stage `calibrate`: the open-set "unknown" threshold, calibrated on the star data set's val
split plus some held-out people (`predict.unknown.path`) and judged on the test split plus
the others → `paths.models/open_set.json` (with the id of the model it was calibrated for:
prediction refuses it beside another model), `paths.reports/open_set.{json,png}`;
`paths.models/impostors.npz`: the held-out people's embeddings by a head's embedder, the bank
`starrec enroll` calibrates its unknown threshold with (empty for a CNN); the pyfunc
serving model (detect + classify + threshold) logged to the training run and registered,
with the promoted alias when models/champion.json names this run.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
from mlflow import MlflowClient

from starrec.artifacts import (
    CANDIDATE,
    CHAMPION,
    IMPOSTORS,
    MODEL,
    MODEL_META,
    OPEN_SET,
    PYFUNC,
    RUN,
    SPLIT_CSV,
    embeddings_file,
)
from starrec.calibrate.openset import (
    calibrate_threshold,
    calibration_people,
    leave_one_star_out,
    plot_tradeoff,
    relabel,
    tradeoff,
)
from starrec.calibrate.rule import model_id_of
from starrec.calibrate.unknown import unknown_faces
from starrec.config import Config
from starrec.dataset.tfrecords import load_split, read_label_map
from starrec.enroll.gallery import write_impostors
from starrec.evaluate.gate import read_champion
from starrec.faces.artifacts import ModelFileError, model_file
from starrec.io import write_json_atomic
from starrec.predict.model_io import (
    Classifier,
    EmbeddingClassifier,
    ModelLoadError,
    load_classifier,
)
from starrec.serve.pyfunc import face_model_names, log_pyfunc
from starrec.errors import StageError
from starrec.stage import run_stage
from starrec.tracking import read_run_json, use_tracking_uri
from starrec.train.embedding_data import EmbeddingDataError, load_embedding_data

log = logging.getLogger("starrec.calibrate")


def main(cfg: Config) -> None:
    p, models, reports = cfg.predict, cfg.paths.models, cfg.paths.reports
    try:
        face_files = {name: model_file(name, cfg.faces.models, cfg.download.http)
                      for name in face_model_names(models)}
        classifier = load_classifier(models / MODEL, models / MODEL_META, p.batch_size,
                                     face_files.get("sface"))
    except (ModelLoadError, ModelFileError) as exc:
        raise StageError(str(exc)) from exc
    images, people = unknown_faces(p.unknown, classifier.classes, classifier.image_size,
                                   classifier.channels, classifier.extract, p.max_image_pixels)
    unknown, impostors = unknown_scores(classifier, images)
    write_impostors(models / IMPOSTORS, impostors, people[:len(impostors)])
    calib = calibration_people(people, p.unknown.calibration_share, p.unknown.seed)
    in_calib = np.array([person in calib for person in people], bool)
    val, test = split_probs(cfg, classifier, ("val", "test"))
    impostors_of = "held-out people"
    calib_unknown, report_unknown = unknown[in_calib], unknown[~in_calib]
    if not in_calib.any():
        impostors_of = "leave-one-star-out"
        log.warning("%s: %d held-out people who are not stars (every other person there is "
                    "one), too few to calibrate the unknown threshold with and judge it; each "
                    "star in turn plays the stranger instead (leave-one-star-out: val "
                    "calibrates, test judges)", p.unknown.path, len(set(people)))
        calib_unknown, report_unknown = leave_one_star_out(*val), leave_one_star_out(*test)
    record = calibrate_threshold(*val, calib_unknown, p.target_precision, p.unknown.prior,
                                 model_id_of(models / MODEL), p.score)
    write_json_atomic(models / OPEN_SET, record.to_json())
    report_people = sorted(set(people) - calib)
    report = {**record.to_json(), "test": tradeoff(*test, report_unknown, record.rule),
              "unknown_people": {"path": p.unknown.path, "impostors": impostors_of,
                                 "n_people": len(set(people)), "n_faces": len(people),
                                 "calibration_people": sorted(calib),
                                 "report_people": report_people}}
    write_json_atomic(reports / OPEN_SET, report)
    plot_tradeoff(*test, report_unknown, record.rule, reports / "open_set.png")
    at = report["test"]["at_threshold"]
    log.info("test: known accuracy %.3f (closed set %.3f), known rejected %.3f, unknown "
             "rejected %.3f over %d faces of %d other held-out people", at["known_accuracy"],
             report["test"]["closed_set_accuracy"], at["known_rejected"],
             at["unknown_rejected"], len(report_unknown), len(report_people))
    register(cfg, report, face_files)


def unknown_scores(classifier: Classifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class scores of the held-out people's faces, and their embeddings: the impostor bank
    `starrec enroll` calibrates its threshold with (empty for a CNN on crops)."""
    if isinstance(classifier, EmbeddingClassifier):
        x = classifier.embed(images)
        return classifier.proba_of_embeddings(x), x
    probs = (classifier.predict_proba(images) if len(images)
             else np.empty((0, len(classifier.classes))))
    return probs, np.zeros((0, 0), np.float32)


def split_probs(cfg: Config, classifier: Classifier, splits: tuple[str, ...]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Class scores and labels (in the classifier's class order) of each split: a head on
    embeddings scores the embed stage's vectors, a CNN the TFRecord images."""
    if isinstance(classifier, EmbeddingClassifier):
        npz = cfg.paths.embeddings / embeddings_file(classifier.embedder.name)
        try:
            data = load_embedding_data(cfg.paths.splits / SPLIT_CSV, npz)
            return [(classifier.proba_of_embeddings(data.x[split]),
                     relabel(data.y[split], data.classes, classifier.classes, npz))
                    for split in splits]
        except (OSError, EmbeddingDataError, ValueError) as exc:
            raise StageError(f"{npz}: cannot read the {'/'.join(splits)} splits ({exc})") from exc
    tfrecords = cfg.paths.tfrecords
    try:
        names = read_label_map(tfrecords)
        out = []
        for split in splits:
            images, labels = load_split(tfrecords, split)
            out.append((classifier.predict_proba(images),
                        relabel(labels, names, classifier.classes, tfrecords)))
        return out
    except (OSError, KeyError, ValueError) as exc:
        raise StageError(f"{tfrecords}: cannot read the {'/'.join(splits)} splits ({exc})"
                         ) from exc


def register(cfg: Config, report: dict, face_files: dict) -> None:
    """Figures + the pyfunc model to the train run; alias `candidate`, and `predict.alias`
    when models/champion.json records this run's Keras model as the champion."""
    models, p = cfg.paths.models, cfg.predict
    run = read_run_json(models / RUN)
    champion = read_champion(models / CHAMPION)
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
            mlflow.log_artifact(str(cfg.paths.reports / name), artifact_path="reports")
        info = log_pyfunc(models, p, face_files)
    client = MlflowClient()
    version = str(info.registered_model_version)
    client.set_registered_model_alias(p.registered_model, CANDIDATE, version)
    promoted = champion is not None and champion["run_id"] == run["run_id"]
    if promoted:
        client.set_registered_model_alias(p.registered_model, p.alias, version)
    log.info("pyfunc model %s version %s registered (%s)", p.registered_model, version,
             f"alias {p.alias}" if promoted else f"not {p.alias}: evaluate did not promote it")
    write_json_atomic(models / PYFUNC, {
        "model_uri": info.model_uri, "registered_model": p.registered_model,
        "model_version": version, "aliases": [CANDIDATE] + ([p.alias] if promoted else [])})


if __name__ == "__main__":
    run_stage(main)
