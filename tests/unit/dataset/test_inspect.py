"""`starrec inspect`: label counts, contact sheet, and clear errors on corrupt or mismatched data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from starrec.cli import app
from starrec.dataset.inspect import inspect_tfrecords
from starrec.dataset.tfrecords import make_example


@pytest.fixture
def copy(dataset_tfrecords: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(dataset_tfrecords, tmp_path / "tfr"))


def cli(*args: str):
    return CliRunner().invoke(app, ["inspect", *map(str, args)])


def test_good_dir_counts_labels_and_draws_sheet(dataset_tfrecords, faces_dir, tmp_path):
    sheet = tmp_path / "sheet.png"
    res = cli(dataset_tfrecords, "--out", sheet)
    assert res.exit_code == 0, res.output
    assert "75 records" in res.output and "error" not in res.output
    counts = pd.read_csv(faces_dir / "manifest.csv")["class"].value_counts()
    expected = {(i, name): counts[name] for i, name in enumerate(sorted(counts.index))}
    assert dict(inspect_tfrecords(dataset_tfrecords).per_label) == expected
    assert all(name in res.output for name in counts.index)
    assert sheet.stat().st_size > 1000
    assert "records per split: test 15, train 45, val 15" in res.output
    assert "schema OK: 75 records" in res.output


def test_default_sheet_goes_to_reports_and_tensorflow_is_quiet(dataset_tfrecords, tmp_path):
    """A real process, TF's log level not set by the caller: no start-up noise on stderr,
    the sheet under reports/ (not the current folder)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-m", "starrec.cli", "inspect", str(dataset_tfrecords)],
                          cwd=tmp_path, env=env, text=True, capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "schema OK" in proc.stdout
    assert proc.stderr == ""  # no absl/oneDNN lines
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*.png")] == [
        Path("reports/inspect_preview.png")]


def test_truncated_shard_is_reported(copy, tmp_path):
    shard = copy / "train-00001-of-00005.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-50])
    res = cli(copy, "--out", tmp_path / "s.png")
    assert res.exit_code == 1
    assert f"{shard}: corrupt after 8 records" in res.output and "schema OK" not in res.output


def test_flipped_bytes_are_reported(copy):
    shard = copy / "val-00000-of-00002.tfrecord"
    data = bytearray(shard.read_bytes())
    data[200] ^= 0xFF  # inside the first record's image: the CRC no longer matches
    shard.write_bytes(bytes(data))
    errors = inspect_tfrecords(copy).errors
    assert any(e.startswith(f"{shard}: corrupt") for e in errors), errors


def test_schema_mismatch_is_reported(copy, tmp_path):
    schema = json.loads((copy / "schema.json").read_text())
    schema["image"]["height"] = schema["image"]["width"] = 64
    schema["features"]["age"] = "int64"
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    res = inspect_tfrecords(copy, tmp_path / "schema.json")
    assert res.records == 75
    assert len([e for e in res.errors if "missing feature 'age'" in e]) == 75
    del schema["features"]["age"]
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    sized = inspect_tfrecords(copy / "test-00000-of-00002.tfrecord", tmp_path / "schema.json")
    assert sized.errors and all("is (32, 32, 1), schema says (64, 64, 1)" in e for e in sized.errors)


def test_bad_records_and_missing_shard_are_reported(copy, faces_dir):
    png = next(faces_dir.glob("*/*.png")).read_bytes()
    with tf.io.TFRecordWriter(str(copy / "extra-00000-of-00001.tfrecord")) as w:
        w.write(make_example(png, 7, "Nobody", (32, 32, 1), "x/1"))  # label outside the map
        w.write(make_example(png, 0, "Ariel_Sharon", (16, 16, 1), "x/2"))  # wrong declared shape
        w.write(make_example(b"\x89PNG broken", 0, "Ariel_Sharon", (32, 32, 1), "x/3"))
        w.write(b"not an example at all")
    (copy / "test-00001-of-00002.tfrecord").unlink()
    errors = inspect_tfrecords(copy).errors
    extra = f"{copy / 'extra-00000-of-00001.tfrecord'}"
    assert f"{extra}#0: label 7 outside the 3 classes" in errors
    assert f"{extra}#1: image is (32, 32, 1), its fields say (16, 16, 1)" in errors
    assert any(e.startswith(f"{extra}#2: image does not decode as PNG") for e in errors)
    assert f"{extra}#3: not a tf.train.Example" in errors
    assert any("test shards in the schema are missing: ['test-00001-of-00002.tfrecord']" in e
               for e in errors)


def test_missing_path_is_one_line_error(tmp_path):
    res = cli(tmp_path / "nope")
    assert res.exit_code == 1 and "nope: no such file or directory" in res.output
