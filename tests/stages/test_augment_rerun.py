"""Real `dvc repro` through augment in a temp repo: changing `augment.copies` re-runs augment only."""

from __future__ import annotations

from pathlib import Path

import yaml
from helpers.dvc_repo import make_repo, run, stages_run

from starrec.artifacts import PUBLIC, STARS

DATA_STAGES = [f"{s}@{STARS}" for s in ("download", "extract_faces", "embed", "validate",
                                        "split", "write_tfrecords")] + ["augment"]


def test_changing_augment_copies_reruns_only_augment(tmp_path: Path, shared_datasets: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {"datasets": {
            STARS: {"download": {"classes": ["Colin_Powell", "George_W_Bush", "Tony_Blair"],
                                 "folder": {"path": str(shared_datasets / "lfw-original-10x10")},
                                 "min_images_per_class": 0}},
            PUBLIC: {"download": {"folder": {"path": str(shared_datasets / "lfw-subset")}}}},
         "extract": {"n_jobs": 1},
         "validate": {"min_images_per_class": 5},
         "augment": {"copies": 1}},
    )
    first = run(["dvc", "repro", "augment"], repo)
    assert sorted(stages_run(first.stdout)) == sorted(DATA_STAGES)  # embed, validate: any order
    tfrecords_lock = _lock(repo)[f"write_tfrecords@{STARS}"]
    one_copy = _augmented_count(repo)
    assert one_copy > 0

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["augment"]["copies"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    status = run(["dvc", "status", "augment"], repo).stdout
    assert "modified:" in status and "augment" in status.split("modified:")[1]
    # the data stages upstream of it are untouched
    assert "up to date" in run(["dvc", "status", "--with-deps", f"write_tfrecords@{STARS}"],
                               repo).stdout

    second = run(["dvc", "repro", "augment"], repo)
    assert stages_run(second.stdout) == ["augment"]
    assert _lock(repo)[f"write_tfrecords@{STARS}"] == tfrecords_lock
    assert _augmented_count(repo) == 3 * one_copy
    assert _lock(repo)["augment"]["params"]["params.yaml"]["augment"]["copies"] == 3


def _lock(repo: Path) -> dict:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def _augmented_count(repo: Path) -> int:
    import tensorflow as tf

    from starrec.dataset.tfrecords import list_shards

    shards = list_shards(repo / "data/augmented", "train_aug")
    return sum(1 for _ in tf.data.TFRecordDataset([str(s) for s in shards]))
