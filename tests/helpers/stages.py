"""Run a stage in-process: `pipelines/<stage>.py`'s `main(cfg)`, as `dvc repro` runs it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.params import config, section
from starrec.artifacts import CLEAN_CSV, SCHEMA, SPLIT_CSV, STARS
from starrec.config import (
    AugmentParams,
    Config,
    DatasetDownload,
    DownloadParams,
    ExtractParams,
    SplitParams,
    TfrecordsParams,
    ValidateParams,
)


def run_main(stage: str, cfg: Config) -> None:
    importlib.import_module(f"pipelines.{stage}").main(cfg)


def download_params(**over: object) -> DownloadParams:
    """The star data set's download params from params.yaml with `over` (keys of a data set
    entry and of the shared `download` section alike)."""
    dataset = {k: v for k, v in over.items() if k in DatasetDownload.model_fields}
    shared = {k: v for k, v in over.items() if k not in dataset}
    return config(datasets={STARS: {"download": dataset}}, download=shared).download


def run_with(stage: str, sections: dict[str, Any], paths: dict[str, Path]) -> None:
    """Run `stage` on params.yaml's config with whole `sections` (validated objects, e.g. a
    DownloadParams) and `paths` replaced."""
    cfg = config()
    run_main(stage, cfg.model_copy(update={
        **sections, "paths": cfg.paths.model_copy(update={k: Path(v) for k, v in paths.items()})}))


def download(params: DownloadParams, out: Path) -> Path:
    """Run the download stage with `params` into `out`; returns `out`."""
    run_with("download", {"download": params}, {"raw": out})
    return Path(out)


def extract_faces(params: ExtractParams, raw: Path, out: Path) -> Path:
    """Run the extract_faces stage with `params` on the raw dir `raw` into `out`."""
    run_with("extract_faces", {"extract": params}, {"raw": raw, "faces": out})
    return Path(out)


def validate(params: ValidateParams, faces: Path, classes: list[str], image_size: int,
             out: Path) -> dict[str, Any]:
    """Run the validate stage on `faces` for `classes` (download.classes) into `out`;
    returns summary.json."""
    cfg = config()
    run_with("validate", {
        "validate_": params, "download": cfg.download.model_copy(update={"classes": classes}),
        "extract": cfg.extract.model_copy(update={"image_size": image_size})},
        {"faces": faces, "validation": out})
    return json.loads((Path(out) / "summary.json").read_text())


def split(params: SplitParams, manifest: Path, out: Path,
          embeddings: Path | None = None) -> dict[str, Any]:
    """Run the split stage on the faces dir of `manifest` into `out`; returns stats.json.
    Without the embed stage's dir `embeddings`, a clean.csv flagging nothing stands in."""
    if embeddings is None:
        embeddings = Path(out).with_name(Path(out).name + "_embeddings")
        embeddings.mkdir(parents=True, exist_ok=True)
        faces = pd.read_csv(manifest, dtype=str, keep_default_na=False)
        faces = faces[faces["status"] == "ok"] if "status" in faces else faces
        pd.DataFrame({"face_id": faces["face_id"], "class": faces["class"], "flag": "",
                      "reason": "", "status": "ok"}).to_csv(embeddings / CLEAN_CSV, index=False)
    run_with("split", {"split": params}, {"faces": Path(manifest).parent, "splits": out,
                                          "embeddings": embeddings})
    return json.loads((Path(out) / "stats.json").read_text())


def write_tfrecords(params: TfrecordsParams, faces: Path, split_csv: Path, out: Path
                    ) -> dict[str, Any]:
    """Run the write_tfrecords stage on `faces` split by `split_csv` (named split.csv) into
    `out`; returns schema.json."""
    assert Path(split_csv).name == SPLIT_CSV
    run_with("write_tfrecords", {"tfrecords": params},
             {"faces": faces, "splits": Path(split_csv).parent, "tfrecords": out})
    return json.loads((Path(out) / SCHEMA).read_text())


def tfrecords_of(faces: Path, table: pd.DataFrame, root: Path, shard_size: int) -> Path:
    """TFRecords of `faces` split by the split.csv rows `table`, in `root/tfrecords`."""
    root.mkdir(parents=True, exist_ok=True)
    table.to_csv(root / SPLIT_CSV, index=False)
    write_tfrecords(section("tfrecords", shard_size=shard_size), faces, root / SPLIT_CSV,
                    root / "tfrecords")
    return root / "tfrecords"


def augment(params: AugmentParams, tfrecords: Path, out: Path) -> dict[str, Any]:
    """Run the augment stage on `tfrecords` into `out`; returns its schema.json."""
    run_with("augment", {"augment": params}, {"tfrecords": tfrecords, "augmented": out})
    return json.loads((Path(out) / SCHEMA).read_text())
