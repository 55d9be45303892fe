"""Stage `augment`: the train split of the star data set's TFRecords → `copies` seeded,
augmented copies as train_aug shards in `paths.augmented` (+ schema, label map, preview)."""

from __future__ import annotations

import logging

from starrec.artifacts import AUGMENTED_SPLIT, LABEL_MAP, SCHEMA
from starrec.config import Config
from starrec.dataset.augment import read_train, save_preview, write_augmented
from starrec.io import atomic_dir, write_json_atomic
from starrec.stage import run_stage

log = logging.getLogger("starrec.augment")


def main(cfg: Config) -> None:
    schema, classes, shards = read_train(cfg.paths.tfrecords)
    with atomic_dir(cfg.paths.augmented) as out:
        out_schema, preview = write_augmented(cfg.augment, schema, classes, shards, out)
        write_json_atomic(out / SCHEMA, out_schema)
        write_json_atomic(out / LABEL_MAP, {"classes": classes})
        save_preview(preview, out / "augment_preview.png")
    log.info("%s: %d augmented records from %d train records (%d copies)", cfg.paths.augmented,
             out_schema["splits"][AUGMENTED_SPLIT]["records"],
             schema["splits"]["train"]["records"], cfg.augment.copies)


if __name__ == "__main__":
    run_stage(main)
