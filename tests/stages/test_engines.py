"""extract_faces, embed and write_tfrecords on the local engine and on Apache Beam (the real
DirectRunner, 2 worker processes) give the same files, byte for byte, on real LFW photos; a
photo that cannot be read is a recorded row on both."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers.faces import copy_photos, make_raw, split_table
from helpers.params import stage_config
from helpers.stages import run_main

from starrec.artifacts import SPLIT_CSV

PEOPLE = ["Alejandro_Toledo", "Alvaro_Uribe", "Amelie_Mauresmo"]
BEAM = {"name": "beam", "beam": {"runner": "DirectRunner", "options": {
    "direct_num_workers": 2, "direct_running_mode": "multi_processing"}}}


def digests(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path → sha256)."""
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file()}


def run_data_stages(root: Path, raw: Path, engine: dict) -> Path:
    cfg = stage_config(root, engine=engine, extract={"n_jobs": 2, "preview_per_class": 2})
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"raw": raw})})
    run_main("extract_faces", cfg)
    run_main("embed", cfg)
    cfg.paths.splits.mkdir(parents=True)
    table = split_table(cfg.paths.faces, lambda r, n: ("train", "val", "test")[r % 3])
    table.dropna(subset=["path"]).to_csv(cfg.paths.splits / SPLIT_CSV, index=False)
    run_main("write_tfrecords", cfg)
    return root / "data"


def test_local_and_beam_engines_write_the_same_files(tmp_path: Path, shared_datasets: Path
                                                    ) -> None:
    lfw = shared_datasets / "lfw-subset"
    photos = [f for person in PEOPLE for f in sorted((lfw / person).glob("*.jpg"))[:6]]
    items = copy_photos(photos) + [(PEOPLE[0], "broken.jpg", photos[0].read_bytes()[:300])]
    raw = make_raw(tmp_path / "raw", items)

    local = run_data_stages(tmp_path / "local", raw, {"name": "local", "beam": BEAM["beam"]})
    beam = run_data_stages(tmp_path / "beam", raw, BEAM)

    for stage in ("faces", "embeddings", "tfrecords"):
        files = digests(local / stage)
        assert files and files == digests(beam / stage), stage
    assert sum(1 for f in digests(local / "tfrecords") if f.endswith(".tfrecord")) == 3
    manifest = (beam / "faces" / "manifest.csv").read_text()
    assert f"{PEOPLE[0]}/broken,{PEOPLE[0]},,{PEOPLE[0]}/broken.jpg" in manifest
    assert ",unreadable," in manifest and manifest.count(",ok,") >= 15
    assert not [p for p in tmp_path.rglob(".*tmp-*")]  # scratch and temp dirs are gone


def test_beam_batches_keep_order_and_record_each_failure(tmp_path: Path) -> None:
    """Beyond 128 items Beam gets batches of items, not one element per item: results still
    come back in input order, and an item that raises is its own `Failed`, not its batch's."""
    from starrec.config import EngineParams
    from starrec.engine import Failed, batches, map_elements

    items = [f"{i}" if i % 37 else f"bad{i}" for i in range(300)]
    assert max(len(b) for b in batches(list(enumerate(items)))) > 1
    engine = EngineParams.model_validate(BEAM)
    out = map_elements(items, int, engine, tmp_path / "out", desc="parse")
    assert [r for r in out if not isinstance(r, Failed)] == [
        i for i in range(300) if i % 37]
    failed = [i for i, r in enumerate(out) if isinstance(r, Failed)]
    assert failed == list(range(0, 300, 37))
    assert "invalid literal for int()" in out[37].reason
    assert list(tmp_path.iterdir()) == []  # the scratch dir is gone
