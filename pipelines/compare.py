"""Stage `compare` (research/dvc.yaml): ways of naming the stars side by side on the star data
set's own split → `paths.reports/compare/` (comparison.csv, comparison.png).

Each embedder in `compare.embedders` (`sface`: the embed stage's vectors; `dlib`: dlib's
ResNet on the same detected faces; `own`: the pretrain stage's backbone on the TFRecord crops)
is scored three ways (nearest prototype, prototype from `evaluate.few_shot` photos per star,
the embedding head), beside the eigenfaces baseline on the same train/test faces.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from starrec.config import Config
from starrec.dataset.tfrecords import load_split, read_label_map
from starrec.errors import StageError
from starrec.evaluate.baseline import class_scores, fit_eigenfaces
from starrec.evaluate.compare_embedders import (
    COLUMNS,
    accuracy_and_f1,
    compare_embedders,
    plot_comparison,
)
from starrec.evaluate.embeddings_of_split import split_embeddings
from starrec.faces.model_files import ModelFileError
from starrec.io import atomic_dir
from starrec.stage import run_stage
from starrec.train.embedding_data import EmbeddingDataError

log = logging.getLogger("starrec.compare")
BASELINE = "eigenfaces"


def main(cfg: Config) -> None:
    e, tfrecords = cfg.evaluate, cfg.paths.tfrecords
    classes = read_label_map(tfrecords)
    x_train, y_train, train_ids = load_split(tfrecords, "train", with_ids=True)
    x_test, y_test, test_ids = load_split(tfrecords, "test", with_ids=True)
    names = np.asarray(classes)
    data = {}
    for name in cfg.compare.embedders:
        try:
            e_train, e_test = split_embeddings(cfg, name, (x_train, train_ids),
                                              (x_test, test_ids))
        except (ModelFileError, EmbeddingDataError, ValueError) as exc:
            raise StageError(f"compare {name}: {exc}") from None
        data[name] = ((e_train, names[y_train]), (e_test, names[y_test]))
        log.info("%s: %d train and %d test faces embedded", name, len(e_train), len(e_test))
    table = compare_embedders(data, e.few_shot, e.few_shot_draws, e.seed,
                              cfg.train.embedding_head)
    baseline = fit_eigenfaces(x_train, y_train, e)
    guess = class_scores(baseline, x_test, len(classes)).argmax(1)
    table = pd.concat([pd.DataFrame(
        [(BASELINE, "svm", m, v) for m, v in accuracy_and_f1(y_test, guess, len(classes)).items()],
        columns=COLUMNS), table], ignore_index=True)
    for row in table.itertuples(index=False):
        log.info("%-10s %-16s %-8s %.4f", row.embedder, row.method, row.metric, row.value)
    with atomic_dir(cfg.paths.reports / "compare") as out:
        table.to_csv(out / "comparison.csv", index=False)
        plot_comparison(table, out / "comparison.png",
                        f"{len(y_test)} test faces of {len(classes)} stars (the pipeline's split)",
                        baseline=BASELINE)


if __name__ == "__main__":
    run_stage(main)
