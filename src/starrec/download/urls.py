"""The `urls` source: `<dir>/<star>_urls.txt`, one image URL per line, fetched in parallel.

Fetched bodies are stored in a content-addressed cache (`<cache_dir>/urls/`) with an index
URL -> sha256 of content that verified as an image, so a second run re-hashes the cached
file instead of downloading it again.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import urllib3
from tqdm import tqdm

from starrec.config import DownloadParams
from starrec.download.http import Fetched, fetch
from starrec.download.ingest import Candidate, Verified, sha256_file
from starrec.download.raw_manifest import Status
from starrec.errors import StageError
from starrec.io import write_json_atomic

log = logging.getLogger(__name__)


def url_file(cfg: DownloadParams, star: str) -> Path:
    return cfg.urls.dir / f"{star}_urls.txt"


def read_urls(path: Path) -> list[str]:
    """Non-empty lines that are not `#` comments, in file order."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise StageError(f"{path}: cannot read URL list ({exc.strerror})") from exc
    return [s for line in lines if (s := line.strip()) and not s.startswith("#")]


class UrlCache:
    """Verified downloads: `blobs/<sha256>` plus `index.json` (URL -> sha256)."""

    def __init__(self, root: Path) -> None:
        self.blobs = root / "blobs"
        self.index_path = root / "index.json"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.index: dict[str, str] = (json.loads(self.index_path.read_text())
                                      if self.index_path.is_file() else {})

    def lookup(self, url: str) -> Path | None:
        """The cached blob for `url` if it is there and its sha256 still matches."""
        sha = self.index.get(url)
        if sha is None:
            return None
        blob = self.blobs / sha
        if blob.is_file() and sha256_file(blob) == sha:
            return blob
        log.warning("%s: cached copy %s is missing or fails its sha256 check, fetching again",
                    url, blob)
        return None

    def keep(self, got: Fetched) -> Path:
        assert got.path is not None
        blob = self.blobs / got.sha256
        os.replace(got.path, blob)
        return blob

    def save(self, items: list[Verified]) -> None:
        """Index the URLs whose content verified as an image; drop blobs nobody points to."""
        for item in items:
            if item.row.status in (Status.OK, Status.DUPLICATE, Status.CONFLICT):
                self.index[item.row.source] = item.row.sha256
            else:
                self.index.pop(item.row.source, None)
        write_json_atomic(self.index_path, self.index)
        used = set(self.index.values())
        for blob in self.blobs.iterdir():
            if blob.name not in used:
                blob.unlink()


def gather_urls(cfg: DownloadParams, pool: urllib3.PoolManager,
                cache: UrlCache) -> tuple[list[Candidate], list[str]]:
    """Candidates for every URL of the selected stars (cached, fetched or failed) and the stars."""
    missing = [c for c in cfg.classes if c not in cfg.urls.stars]
    if missing:
        raise StageError(f"{cfg.urls.dir}: class {', '.join(missing)} is not in download.urls.stars")
    classes = cfg.classes or cfg.urls.stars
    cands: list[Candidate] = []
    todo: list[int] = []
    for star in cfg.urls.stars:
        if star not in classes and not url_file(cfg, star).is_file():
            continue
        for i, url in enumerate(read_urls(url_file(cfg, star))):
            cand = Candidate(star, url, f"{star}.{i:04d}")
            if star not in classes:
                cand.status, cand.reason = Status.CLASS_DROPPED, "class not in download.classes"
            elif not url.startswith(("http://", "https://")):
                cand.status, cand.reason = Status.INVALID_URL, "not an http(s) URL"
            elif (blob := cache.lookup(url)) is not None:
                cand.path = blob
            else:
                todo.append(len(cands))
            cands.append(cand)
    log.info("%d URLs: %d verified in the cache, %d to fetch", len(cands),
             sum(c.path is not None for c in cands), len(todo))
    with ThreadPoolExecutor(max_workers=max(1, cfg.http.workers)) as ex:
        results = ex.map(lambda k: fetch(pool, cands[k].source, cache.blobs, cfg.http.max_bytes), todo)
        for k, got in tqdm(zip(todo, results), total=len(todo), desc="download", unit="url"):
            cand = cands[k]
            if got.status == Status.OK:
                cand.path = cache.keep(got)
            else:
                cand.status, cand.reason, cand.bytes = got.status, got.reason, got.bytes
    return cands, classes
