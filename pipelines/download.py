"""Stage `download`: photos from `download.source` → `paths.raw/<class>/<file>` plus
manifest.csv, one row per item seen (`--dataset NAME` picks the data set).

Reads the source (`download.folder.path`, `download.urls.dir` or the LFW archive); verified
downloads are kept in `download.cache_dir` between runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from starrec.config import Config
from starrec.download.http import make_pool
from starrec.download.ingest import dedupe, select_classes, verify_all
from starrec.download.raw import log_summary, write_raw
from starrec.download.sources import gather
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    d = cfg.download
    d.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download.", dir=d.cache_dir) as work:
        found = gather(d, make_pool(d.http), Path(work))
        items = verify_all(found.candidates, os.cpu_count() or 1)
        dedupe(items)
        if found.url_cache is not None:
            found.url_cache.save(items)
        items = select_classes(items, found.classes, d.min_images_per_class)
        rows = write_raw(items, found.refused, cfg.paths.raw)
    log_summary(rows, cfg.paths.raw)


if __name__ == "__main__":
    run_stage(main)
