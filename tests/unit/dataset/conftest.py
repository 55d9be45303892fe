"""Shared fixture: TFRecords of the session's 3-person faces dir."""

from pathlib import Path

import pytest
from helpers.faces import split_table
from helpers.stages import tfrecords_of


@pytest.fixture(scope="module")
def dataset_tfrecords(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TFRecords of the 3-person faces dir; per class the first 60% train, then 20/20."""
    table = split_table(faces_dir, lambda rank, n: "train" if rank / n < 0.6
                        else "val" if rank / n < 0.8 else "test")
    return tfrecords_of(faces_dir, table, tmp_path_factory.mktemp("tfr"), shard_size=10)
