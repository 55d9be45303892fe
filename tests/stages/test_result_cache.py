"""The result cache of extract_faces and embed: a photo seen before costs a hash, what the
stages write is byte-identical with a warm, cold, corrupt or foreign cache, and a bad entry
is a warning naming it, never a wrong row."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from helpers.faces import copy_photos, make_raw
from helpers.params import config
from helpers.stages import run_main

from starrec.faces.result_cache import ResultCache, result_key

PEOPLE = ("Colin_Powell", "George_W_Bush", "Tony_Blair")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def entries(cache: Path, kind: str) -> list[Path]:
    return sorted(p for p in (cache / kind).glob("*/*") if p.is_file())


def run_stages(raw: Path, root: Path, cache: Path) -> dict[str, dict[str, bytes]]:
    """extract_faces then embed of `raw` into fresh dirs under `root`; their files."""
    shutil.rmtree(root, ignore_errors=True)
    cfg = config(extract={"n_jobs": 1}, face_cache={"dir": str(cache)})
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={
        "raw": raw, "faces": root / "faces", "embeddings": root / "embeddings"})})
    run_main("extract_faces", cfg)
    run_main("embed", cfg)
    return {"faces": tree(root / "faces"), "embeddings": tree(root / "embeddings")}


def photos(lfw10: Path) -> list[Path]:
    return [p for person in PEOPLE for p in sorted((lfw10 / person).glob("*.jpg"))[:5]]


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory, lfw10: Path) -> Path:
    return make_raw(tmp_path_factory.mktemp("raw"), copy_photos(photos(lfw10)))


def test_outputs_are_the_same_bytes_from_nothing_warm_and_repaired(
        raw: Path, lfw10: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    caplog.set_level(logging.INFO)
    cold = run_stages(raw, tmp_path / "cold", cache)
    assert "extract_faces: 0 of 15 photos reused" in caplog.text
    n_faces = sum(1 for name in cold["faces"] if name.endswith(".png")) - 1  # preview.png
    assert f"embed sface: 0 of {n_faces} faces reused" in caplog.text
    assert len(entries(cache, "extract")) == 15 and len(entries(cache, "embed")) == n_faces

    caplog.clear()
    assert run_stages(raw, tmp_path / "warm", cache) == cold
    assert "extract_faces: 15 of 15 photos reused" in caplog.text
    assert f"embed sface: {n_faces} of {n_faces} faces reused" in caplog.text

    # a truncated entry and a foreign one (another photo's entry under this name): warned,
    # removed, recomputed; the outputs do not change by a byte
    first, second = entries(cache, "extract")[:2]
    first.write_bytes(first.read_bytes()[:-10])
    face = entries(cache, "embed")[0]
    shutil.copy(entries(cache, "embed")[1], face)
    caplog.clear()
    assert run_stages(raw, tmp_path / "repaired", cache) == cold
    assert f"{first}: cache entry corrupt; removed and recomputed" in caplog.text
    assert f"{face}: cache entry holds another entry (foreign); removed and recomputed" in caplog.text
    assert "extract_faces: 14 of 15 photos reused" in caplog.text
    assert f"embed sface: {n_faces - 1} of {n_faces} faces reused" in caplog.text
    assert ResultCache(cache, "extract").get(first.name) is not None  # rewritten, valid

    # one new photo added: only it is new work
    new = sorted((lfw10 / "Tony_Blair").glob("*.jpg"))[-1]
    added = make_raw(tmp_path / "raw_added", copy_photos(photos(lfw10) + [new]))
    caplog.clear()
    run_stages(added, tmp_path / "added", cache)
    assert "extract_faces: 15 of 16 photos reused" in caplog.text


def test_settings_are_part_of_the_key(raw: Path, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """Another detector setting finds nothing cached: a stale entry is missed, never used."""
    cache = tmp_path / "cache"
    run_stages(raw, tmp_path / "a", cache)
    caplog.set_level(logging.INFO)
    cfg = config(extract={"n_jobs": 1, "min_face_size": 30}, face_cache={"dir": str(cache)})
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={
        "raw": raw, "faces": tmp_path / "b"})})
    run_main("extract_faces", cfg)
    assert "extract_faces: 0 of 15 photos reused" in caplog.text


def test_cache_is_capped_least_recently_used_first(tmp_path: Path) -> None:
    """Five entries of ~1050 bytes under a 3200-byte cap: the two least recently used go."""
    cache = ResultCache(tmp_path, "k", max_bytes=3200)
    keys = [result_key("t", i) for i in range(5)]
    for age, key in enumerate(keys, start=1):  # keys[0] oldest
        cache.put(key, b"x" * 900)
        os.utime(tmp_path / "k" / key[:2] / key, (age, age))
    assert cache.get(keys[0]) is not None  # used now: the most recent
    assert cache.prune() == 2
    assert [k for k in keys if cache.get(k) is not None] == [keys[0], keys[3], keys[4]]
    assert ResultCache(tmp_path, "k").get(result_key("t", "never")) is None
    assert ResultCache(None, "k").get(keys[0]) is None  # no root: keeps nothing
