"""`download(cfg, out_dir)`: gather items from the configured source, verify, de-duplicate,
select classes, and write `out_dir/<class>/<file>` + `out_dir/manifest.csv` atomically."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from starrec.config import DownloadParams
from starrec.download.folder import gather_folder
from starrec.download.http import make_pool
from starrec.download.ingest import Verified, dedupe, select_classes, verify_all
from starrec.download.lfw import gather_lfw
from starrec.download.manifest import Row, Status, summarize, write_manifest
from starrec.download.urls import UrlCache, gather_urls
from starrec.io import atomic_dir

log = logging.getLogger(__name__)


def download(cfg: DownloadParams, out_dir: Path) -> Path:
    """Build the raw-photo dir `out_dir` from `cfg.source`; return `out_dir`.

    Raises StageError when the source is unusable (missing, bad checksum, unsafe archive),
    a requested class is absent, or a selected class ends up with zero ok images.
    """
    cfg.cache_dir.mkdir(parents=True, exist_ok=True)
    pool = make_pool(cfg.http)
    cache = UrlCache(cfg.cache_dir / "urls") if cfg.source == "urls" else None
    with tempfile.TemporaryDirectory(prefix=".download.", dir=cfg.cache_dir) as tmp:
        work = Path(tmp)
        refused: list[Row] = []
        if cache is not None:
            cands, classes = gather_urls(cfg, pool, cache)
        elif cfg.source == "lfw":
            cands, classes, refused = gather_lfw(cfg, pool, work)
        else:
            cands, classes, refused = gather_folder(cfg, pool, work)
        items = verify_all(cands, os.cpu_count() or 1)
        dedupe(items)
        if cache is not None:
            cache.save(items)
        items = select_classes(items, classes, cfg.min_images_per_class)
        rows = _write(items, refused, out_dir)
    _log_summary(rows, out_dir)
    return out_dir


def _write(items: list[Verified], refused: list[Row], out_dir: Path) -> list[Row]:
    """Copy the ok files to `<class>/<stem>.<ext>` (unique) and write the manifest."""
    with atomic_dir(out_dir) as tmp:
        taken: set[str] = set()
        for item in items:
            if item.row.status != Status.OK or item.cand.path is None:
                continue
            rel = f"{item.cand.cls}/{item.cand.stem}.{item.ext}"
            if rel in taken:
                rel = f"{item.cand.cls}/{item.cand.stem}-{item.row.sha256[:8]}.{item.ext}"
            taken.add(rel)
            (tmp / item.cand.cls).mkdir(exist_ok=True)
            shutil.copyfile(item.cand.path, tmp / rel)
            item.row.path = rel
        rows = [item.row for item in items] + refused
        write_manifest(rows, tmp / "manifest.csv")
    return rows


def _log_summary(rows: list[Row], out_dir: Path) -> None:
    for row in rows:
        if row.status not in (Status.OK, Status.DUPLICATE):
            log.warning("%s: %s (%s)", row.source, row.status, row.reason)
    totals, per_class = summarize(rows)
    log.info("%s: %d items: %s", out_dir, len(rows),
             ", ".join(f"{n} {s}" for s, n in totals.most_common()))
    for cls, counts in sorted(per_class.items()):
        log.info("  %-30s %s", cls or "(no class)",
                 ", ".join(f"{n} {s}" for s, n in counts.most_common()))
