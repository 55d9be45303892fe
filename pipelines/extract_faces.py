"""Stage `extract_faces`: the ok photos of `paths.raw` → face PNGs, manifest.csv and
preview.png in `paths.faces` (`--dataset NAME` picks the data set). Photos seen before come
from the result cache (`face_cache`)."""

from __future__ import annotations

import pandas as pd

from starrec.artifacts import MANIFEST
from starrec.config import Config
from starrec.errors import StageError
from starrec.faces.extract import COLUMNS, list_photos, process_photos, report, write_manifest
from starrec.faces.preview import write_preview
from starrec.faces.result_cache import ResultCache
from starrec.io import atomic_dir
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    photos = list_photos(cfg.paths.raw)
    cache = ResultCache(cfg.face_cache.dir, "extract", cfg.face_cache.max_bytes)
    with atomic_dir(cfg.paths.faces) as out:
        rows = process_photos(photos, cfg.extract, out, cfg.download.max_image_pixels,
                              cfg.faces.models, cfg.download.http, cfg.engine, cache)
        faces = pd.DataFrame(rows, columns=COLUMNS)
        ok = faces[faces["status"] == "ok"]
        if ok.empty:
            raise StageError(f"{cfg.paths.raw}: no face found in any of {len(photos)} photos")
        report(faces, sorted({p.cls for p in photos}))
        write_manifest(rows, out / MANIFEST)
        write_preview(ok, out, out / "preview.png", cfg.extract.preview_per_class)
    cache.prune()


if __name__ == "__main__":
    run_stage(main)
