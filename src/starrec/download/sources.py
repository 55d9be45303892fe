"""One entry to every source: candidate files (or known failures) per class, whatever
`download.source` says; the verifying, de-duplicating and writing are the same for all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import urllib3

from starrec.config import DownloadParams
from starrec.download.folder import gather_folder
from starrec.download.ingest import Candidate
from starrec.download.lfw import gather_lfw
from starrec.download.raw_manifest import Row
from starrec.download.urls import UrlCache, gather_urls


@dataclass
class Gathered:
    candidates: list[Candidate]
    classes: list[str]
    refused: list[Row]  # archive members refused before extraction
    url_cache: UrlCache | None  # the `urls` source's cache, to index what verified


def gather(cfg: DownloadParams, pool: urllib3.PoolManager, work: Path) -> Gathered:
    """Candidates from `cfg.source`; `work` is a scratch dir for fetched and extracted files."""
    if cfg.source == "urls":
        cache = UrlCache(cfg.cache_dir / "urls")
        cands, classes = gather_urls(cfg, pool, cache)
        return Gathered(cands, classes, [], cache)
    gather_source = gather_lfw if cfg.source == "lfw" else gather_folder
    cands, classes, refused = gather_source(cfg, pool, work)
    return Gathered(cands, classes, refused, None)
