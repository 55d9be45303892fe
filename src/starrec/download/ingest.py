"""Turn candidate files from any source into verified, de-duplicated, class-selected rows.

Sources only say "this file (or this failure) belongs to this class"; every source then
goes through the same checks here, so the manifest means the same thing for all of them.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from starrec.download.manifest import Row, Status
from starrec.download.sniff import BadImage, sniff_image
from starrec.stage import StageError

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    """One item of a class: a local file to verify, or a failure already known (path None)."""

    cls: str
    source: str
    stem: str  # output file name without extension (the extension comes from the content)
    path: Path | None = None
    status: Status = Status.OK
    reason: str = ""
    bytes: int | None = None


@dataclass
class Verified:
    cand: Candidate
    row: Row
    ext: str = ""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(cand: Candidate, max_bytes: int | None = None) -> Verified:
    """Hash and decode the candidate's file; a failure becomes the row's status and reason."""
    if cand.path is None:
        return Verified(cand, Row(cand.cls, cand.source, cand.status, cand.reason, cand.bytes))
    try:
        data = cand.path.read_bytes()
    except OSError as exc:
        return Verified(cand, Row(cand.cls, cand.source, Status.UNREADABLE, f"cannot read: {exc}"))
    row = Row(cand.cls, cand.source, Status.OK, bytes=len(data),
              sha256=hashlib.sha256(data).hexdigest())
    if max_bytes is not None and len(data) > max_bytes:
        row.status, row.reason = Status.TOO_LARGE, f"{len(data)} bytes > max {max_bytes}"
        return Verified(cand, row)
    try:
        return Verified(cand, row, sniff_image(data))
    except BadImage as exc:
        row.status, row.reason = exc.status, exc.reason
        return Verified(cand, row)


def verify_all(cands: list[Candidate], workers: int, max_bytes: int | None = None) -> list[Verified]:
    """Verify in parallel threads (decoding releases the GIL), keeping the input order."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda c: verify(c, max_bytes), cands)
        return list(tqdm(results, total=len(cands), desc="verify", unit="img", leave=False))


def dedupe(items: list[Verified]) -> None:
    """Mark every ok item whose content was already seen (first one wins) as a duplicate."""
    first: dict[str, str] = {}
    for item in items:
        if item.row.status != Status.OK:
            continue
        if item.row.sha256 in first:
            item.row.status = Status.DUPLICATE
            item.row.reason = f"same content as {first[item.row.sha256]}"
        else:
            first[item.row.sha256] = item.row.source


def select_classes(items: list[Verified], classes: list[str], min_images: int) -> list[Verified]:
    """Keep the `classes` with >= `min_images` ok items; a kept class with none is an error."""
    ok = Counter(i.row.cls for i in items if i.row.status == Status.OK)
    dropped = [c for c in classes if ok[c] < min_images]
    if dropped:
        log.info("%d classes have fewer than min_images_per_class=%d ok images and are left out "
                 "(%d items)", len(dropped), min_images,
                 sum(1 for i in items if i.row.cls in set(dropped)))
    kept = [c for c in classes if c not in set(dropped)]
    if not kept:
        raise StageError(f"no class has at least min_images_per_class={min_images} ok images")
    empty = [c for c in kept if ok[c] == 0]
    if empty:
        raise StageError(f"class {', '.join(empty)}: zero ok images "
                         f"({_why(items, empty[0])})")
    keep = set(kept)
    return [i for i in items if i.row.cls in keep]


def _why(items: list[Verified], cls: str) -> str:
    statuses = Counter(str(i.row.status) for i in items if i.row.cls == cls)
    return ", ".join(f"{n} {s}" for s, n in statuses.items()) or "no files"
