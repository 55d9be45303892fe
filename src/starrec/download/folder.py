"""The `folder` source: a class-per-folder directory, or a .zip/.tar(.gz) file or URL of one.

A top level holding only split folders (train/val/test, as in five-celebrity-faces) is
merged per class. Files outside any class folder (README, MANIFEST) are logged, not used.
"""

from __future__ import annotations

import logging
from pathlib import Path

import urllib3

from starrec.config import DownloadParams
from starrec.download.archive import safe_extract
from starrec.download.http import fetch
from starrec.download.ingest import Candidate
from starrec.download.raw_manifest import Row, Status
from starrec.errors import StageError

log = logging.getLogger(__name__)

SPLIT_DIRS = {"train", "val", "valid", "validation", "test"}


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "__MACOSX"))


def class_dirs(root: Path) -> dict[str, list[Path]]:
    """Class name -> its folders (several when train/val/test splits are merged)."""
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    loose = [p.name for p in root.iterdir() if p.is_file() and _visible(p)]
    if loose:
        log.info("%s: %d files outside class folders not used (%s)", root, len(loose),
                 ", ".join(sorted(loose)[:5]))
    if subdirs and all(p.name.lower() in SPLIT_DIRS for p in subdirs):
        log.info("%s: merging split folders %s per class", root, ", ".join(p.name for p in subdirs))
        merged: dict[str, list[Path]] = {}
        for split in subdirs:
            for p in sorted(split.iterdir()):
                if p.is_dir() and _visible(p):
                    merged.setdefault(p.name, []).append(p)
        return dict(sorted(merged.items()))
    return {p.name: [p] for p in subdirs}


def scan(root: Path, base: Path, prefix: str, wanted: list[str]) -> tuple[list[Candidate], list[str]]:
    """Candidates for every file under the class folders of `root`, and the class names.

    Each source is `prefix` + the file's path relative to `base`. With `wanted`, only those
    classes are read; the others' files are `class_dropped` candidates (the manifest has a
    row for every file), and a wanted class the folder lacks is an error.
    """
    dirs = class_dirs(root)
    if not dirs:
        raise StageError(f"{root}: no class folders found")
    missing = [c for c in wanted if c not in dirs]
    if missing:
        raise StageError(f"{prefix or root}: no class folder for {', '.join(missing)} "
                         f"(have {len(dirs)}: {', '.join(list(dirs)[:10])}...)")
    classes = wanted or list(dirs)
    cands = [
        Candidate(cls, f"{prefix}{f.relative_to(base).as_posix()}", f.stem, f)
        if cls in classes else
        Candidate(cls, f"{prefix}{f.relative_to(base).as_posix()}", f.stem,
                  status=Status.CLASS_DROPPED, reason="class not in download.classes",
                  bytes=f.stat().st_size)
        for cls in dirs for d in dirs[cls]
        for f in sorted(d.rglob("*"))
        if f.is_file() and not f.is_symlink() and _visible(f)
    ]
    return cands, classes


def descend(root: Path) -> Path:
    """Skip single wrapper folders (`photos/` in photos.zip, `lfw_funneled/` in LFW)."""
    while True:
        dirs = [p for p in root.iterdir() if p.is_dir() and _visible(p)]
        if len(dirs) != 1 or not any(p.is_dir() for p in dirs[0].iterdir()):
            return root
        root = dirs[0]


def from_archive(archive: Path, source: str, cfg: DownloadParams,
                 work: Path) -> tuple[list[Candidate], list[str], list[Row]]:
    """Safely extract `archive` into `work` and scan it as a class-per-folder tree."""
    extracted = work / "extracted"
    refused = safe_extract(archive, extracted, cfg.archive, source)
    cands, classes = scan(descend(extracted), extracted, f"{source}#", cfg.classes)
    return cands, classes, refused


def gather_folder(cfg: DownloadParams, pool: urllib3.PoolManager,
                  work: Path) -> tuple[list[Candidate], list[str], list[Row]]:
    """Candidates, class names and refused archive members for `download.folder.path`."""
    where = cfg.folder.path
    if where.startswith(("http://", "https://")):
        got = fetch(pool, where, work, cfg.archive.max_total_bytes, progress=True)
        if got.status != Status.OK or got.path is None:
            raise StageError(f"{where}: download failed: {got.status} {got.reason}")
        return from_archive(got.path, where, cfg, work)
    path = Path(where)
    if path.is_file():
        return from_archive(path, where, cfg, work)
    if not path.is_dir():
        raise StageError(f"{where}: no such folder or archive (the data set's download.folder.path)")
    cands, classes = scan(path, path, f"{where.rstrip('/')}/", cfg.classes)
    return cands, classes, []
