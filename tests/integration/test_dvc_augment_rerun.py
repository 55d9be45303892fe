"""Real `dvc repro` through augment in a temp repo: changing `augment.copies` re-runs augment only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dvc_repo import make_repo, run, stages_run

pytestmark = pytest.mark.slow

DATA_STAGES = ["download", "extract_faces", "validate", "split", "write_tfrecords", "augment"]


def test_changing_augment_copies_reruns_only_augment(tmp_path: Path, shared_datasets: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {"download": {"source": "folder", "classes": ["Colin_Powell", "George_W_Bush", "Tony_Blair"],
                      "folder": {"path": str(shared_datasets / "lfw-original-10x10")}, "min_images_per_class": 0},
         "extract": {"n_jobs": 1, "image_size": 32},
         "validate": {"min_images_per_class": 5},
         "augment": {"copies": 1}},
    )
    first = run(["dvc", "repro", "augment"], repo)
    assert stages_run(first.stdout) == DATA_STAGES
    tfrecords_lock = _lock(repo)["write_tfrecords"]
    one_copy = _augmented_count(repo)
    assert one_copy > 0

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["augment"]["copies"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    status = run(["dvc", "status", "augment"], repo).stdout
    assert "modified:" in status and "augment" in status.split("modified:")[1]
    # `dvc status STAGE` covers the stage and everything upstream of it
    assert "up to date" in run(["dvc", "status", "write_tfrecords"], repo).stdout

    second = run(["dvc", "repro", "augment"], repo)
    assert stages_run(second.stdout) == ["augment"]
    assert _lock(repo)["write_tfrecords"] == tfrecords_lock
    assert _augmented_count(repo) == 3 * one_copy
    assert _lock(repo)["augment"]["params"]["params.yaml"]["augment"]["copies"] == 3


def _lock(repo: Path) -> dict:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def _augmented_count(repo: Path) -> int:
    from starrec.dataset.tfrecords import list_shards

    import tensorflow as tf

    shards = list_shards(repo / "data/augmented", "train_aug")
    return sum(1 for _ in tf.data.TFRecordDataset([str(s) for s in shards]))
