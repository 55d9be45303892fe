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

from starrec.artifacts import IMPOSTORS, MODEL, MODEL_META, OPEN_SET, PYFUNC, SPLIT_CSV
from starrec.calibrate.openset import calibrate_open_set, plot_tradeoff
from starrec.calibrate.rule import model_id_of
from starrec.calibrate.unknown import unknown_faces
from starrec.config import Config
from starrec.enroll.gallery import write_impostors
from starrec.errors import StageError
from starrec.faces.model_files import ModelFileError, model_file
from starrec.io import write_json_atomic
from starrec.predict.model_io import ModelLoadError, load_classifier
from starrec.predict.scores import split_probs, unknown_scores
from starrec.serve.pyfunc import face_model_names
from starrec.serve.register import register_pyfunc
from starrec.stage import run_stage


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
    val, test = split_probs(classifier, ("val", "test"), cfg.paths.splits / SPLIT_CSV,
                            cfg.paths.embeddings, cfg.paths.tfrecords)
    record, report, judged = calibrate_open_set(val, test, unknown, people, p,
                                                model_id_of(models / MODEL))
    write_json_atomic(models / OPEN_SET, record.to_json())
    write_json_atomic(reports / OPEN_SET, report)
    plot_tradeoff(*test, judged, record.rule, reports / "open_set.png")
    write_json_atomic(models / PYFUNC, register_pyfunc(models, reports, report, face_files, p))


if __name__ == "__main__":
    run_stage(main)
