"""Stage `write_tfrecords`: the faces of `paths.faces` by split.csv → sharded TFRecords,
label_map.json and schema.json in `paths.tfrecords`."""

from __future__ import annotations

from starrec.artifacts import SPLIT_CSV
from starrec.config import Config
from starrec.dataset.tfrecords import load_faces, read_split_table, write_tfrecords
from starrec.io import atomic_dir
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    split_csv = cfg.paths.splits / SPLIT_CSV
    table, classes = read_split_table(split_csv)
    faces, shape, rejected = load_faces(table, cfg.paths.faces, split_csv)
    with atomic_dir(cfg.paths.tfrecords) as out:
        write_tfrecords(faces, classes, shape, rejected, cfg.tfrecords.shard_size, out,
                        cfg.engine)


if __name__ == "__main__":
    run_stage(main)
