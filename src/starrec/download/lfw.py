"""The `lfw` source: the public LFW archive, downloaded once, verified by sha256, cached."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import urllib3

from starrec.config import DownloadParams
from starrec.download.folder import from_archive
from starrec.download.http import fetch
from starrec.download.ingest import Candidate, sha256_file
from starrec.download.raw_manifest import Row, Status
from starrec.errors import StageError

log = logging.getLogger(__name__)


def fetch_verified(cfg: DownloadParams, pool: urllib3.PoolManager) -> Path:
    """The cached archive if its sha256 still matches, else a fresh, verified download."""
    target = cfg.cache_dir / "lfw" / cfg.lfw.filename
    want = cfg.lfw.sha256.lower()
    if target.is_file():
        if sha256_file(target) == want:
            log.info("%s: cached, sha256 verified", target)
            return target
        log.warning("%s: cached copy fails its sha256 check, downloading again", target)
    log.info("downloading %s", cfg.lfw.url)
    got = fetch(pool, cfg.lfw.url, target.parent, cfg.archive.max_total_bytes, progress=True)
    if got.status != Status.OK or got.path is None:
        raise StageError(f"{cfg.lfw.url}: LFW download failed: {got.status} {got.reason}")
    if got.sha256 != want:
        got.path.unlink()
        raise StageError(f"{cfg.lfw.url}: sha256 mismatch: got {got.sha256}, expected {want} "
                         "(download.lfw.sha256)")
    os.replace(got.path, target)
    return target


def gather_lfw(cfg: DownloadParams, pool: urllib3.PoolManager,
               work: Path) -> tuple[list[Candidate], list[str], list[Row]]:
    """Candidates, people and refused members of the verified LFW archive."""
    return from_archive(fetch_verified(cfg, pool), cfg.lfw.url, cfg, work)
