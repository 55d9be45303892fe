"""Stage `embed`: every ok face of `paths.faces` → one embedding per face and embedder in
`paths.embeddings` (`<embedder>.npz`, meta.json), then the scraped classes cleaned with the
first embedder (clean.csv, flagged.png). The stages after it read these instead of running a
network again (`--dataset NAME` picks the data set). Faces embedded before come from the
result cache (`face_cache`)."""

from __future__ import annotations

import logging
from functools import partial

import numpy as np

from starrec.artifacts import CLEAN_CSV, EMBEDDINGS_META, FLAGGED_PNG, MANIFEST, embeddings_file
from starrec.config import Config
from starrec.dataset.faces_manifest import ok_faces, read_faces_manifest
from starrec.errors import StageError
from starrec.faces.model_files import ModelFileError, artifact
from starrec.faces.clean import clean_faces, write_flagged_sheet
from starrec.faces.embed import EMBEDDER_FILES, embed_manifest, make_embedder
from starrec.faces.result_cache import ResultCache
from starrec.io import atomic_dir, write_json_atomic
from starrec.stage import run_stage

log = logging.getLogger(__name__)


def main(cfg: Config) -> None:
    manifest = cfg.paths.faces / MANIFEST
    faces = ok_faces(read_faces_manifest(manifest))
    if faces.empty:
        raise StageError(f"{manifest}: no ok faces to embed")
    ids = faces["face_id"].to_numpy(str)
    cache = ResultCache(cfg.face_cache.dir, "embed", cfg.face_cache.max_bytes)
    with atomic_dir(cfg.paths.embeddings) as out:
        meta, first = {}, None
        for name in cfg.embed.embedders:
            try:
                embedder = make_embedder(cfg.faces, cfg.download.http, name)
                x = embed_manifest(embedder, faces, cfg.paths.faces, cfg.paths.raw,
                                   cfg.download.max_image_pixels, cfg.engine,
                                   partial(make_embedder, cfg.faces, cfg.download.http, name),
                                   cache)
            except (ModelFileError, ValueError) as exc:
                raise StageError(f"embed {name}: {exc}") from None
            np.savez(out / embeddings_file(name), face_id=ids, x=x)
            meta[name] = {"dim": embedder.dim, "licence": embedder.licence,
                          "input": embedder.input.to_dict(),
                          "model_sha256": artifact(EMBEDDER_FILES[name][0]).sha256}
            log.info("embed %s: %d faces, dim %d", name, len(x), embedder.dim)
            first = x if first is None else first
        write_json_atomic(out / EMBEDDINGS_META, meta)
        cleaned = clean_faces(faces.assign(photo=faces["source_path"]), first, cfg.clean)
        cleaned.to_csv(out / CLEAN_CSV, index=False)
        write_flagged_sheet(cleaned.assign(path=faces["path"]), cfg.paths.faces,
                            out / FLAGGED_PNG, cfg.embed.flagged_per_class)
    cache.prune()


if __name__ == "__main__":
    run_stage(main)
