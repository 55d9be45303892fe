"""Stage `download`: photos from `download.source` → `paths.raw/<class>/<file>` plus
manifest.csv, one row per item seen (`--dataset NAME` picks the data set).

Reads the source (`download.folder.path`, `download.urls.dir` or the LFW archive); verified
downloads are kept in `download.cache_dir` between runs.
"""

from __future__ import annotations

import os

from starrec.config import Config
from starrec.download.http import make_pool
from starrec.download.ingest import dedupe, select_classes, verify_all
from starrec.download.raw_manifest import write_manifest
from starrec.download.raw import log_summary, write_raw
from starrec.download.sources import gather
from starrec.errors import StageError
from starrec.io import scratch_dir
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    d = cfg.download
    with scratch_dir(d.cache_dir / "download") as work:
        found = gather(d, make_pool(d.http), work)
        items = verify_all(found.candidates, os.cpu_count() or 1, d.max_image_pixels)
        dedupe(items, d.conflicts)
        if found.url_cache is not None:
            found.url_cache.save(items)
        problem = select_classes(items, found.classes, d.min_images_per_class)
        if problem:  # the last good output stays; this run's rows are kept for a look
            failed = d.cache_dir / f"failed-{'-'.join(cfg.paths.raw.parts[-2:])}-manifest.csv"
            write_manifest([i.row for i in items] + found.refused, failed)
            raise StageError(f"{cfg.paths.raw}: {problem} (every item's status: {failed})")
        rows = write_raw(items, found.refused, cfg.paths.raw)
    log_summary(rows, cfg.paths.raw)


if __name__ == "__main__":
    run_stage(main)
