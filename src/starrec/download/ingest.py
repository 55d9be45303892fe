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

from starrec.download.raw_manifest import Row, Status
from starrec.download.sniff import BadImage, sniff_image

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


def verify(cand: Candidate, max_pixels: int, max_bytes: int | None = None) -> Verified:
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
        return Verified(cand, row, sniff_image(data, max_pixels))
    except BadImage as exc:
        row.status, row.reason = exc.status, exc.reason
        return Verified(cand, row)


def verify_all(cands: list[Candidate], workers: int, max_pixels: int) -> list[Verified]:
    """Verify in parallel threads (decoding releases the GIL), keeping the input order."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda c: verify(c, max_pixels), cands)
        return list(tqdm(results, total=len(cands), desc="verify", unit="img", leave=False))


def dedupe(items: list[Verified], policy: str) -> None:
    """Mark repeated content. Within a class, later copies are `duplicate`s of the first.
    Across classes (one photo, two people) the copies are a `conflict`: with policy
    `drop_both` every copy, with `keep_first` those outside the first copy's class."""
    copies: dict[str, list[Verified]] = {}
    for item in items:
        if item.row.status == Status.OK:
            copies.setdefault(item.row.sha256, []).append(item)
    for same in copies.values():
        first = same[0]
        for item in same[1:]:
            if item.row.cls == first.row.cls:
                item.row.status = Status.DUPLICATE
                item.row.reason = f"same content as {first.row.source}"
        if len({i.row.cls for i in same}) > 1:
            _conflict(same, policy)


def _conflict(same: list[Verified], policy: str) -> None:
    """Copies of one photo under several classes: mark them, name the other class."""
    first = same[0]
    for item in same:
        if policy == "keep_first" and item.row.cls == first.row.cls:
            continue
        other = next(i for i in same if i.row.cls != item.row.cls)
        item.row.status = Status.CONFLICT
        item.row.reason = (f"same content as {other.row.source} of class {other.row.cls} "
                           f"(download.conflicts={policy})")
    kept = "dropped" if policy == "drop_both" else f"kept in class {first.row.cls} only"
    log.warning("one photo under classes %s: %s; %s (download.conflicts=%s)",
                ", ".join(sorted({i.row.cls for i in same})),
                ", ".join(i.row.source for i in same), kept, policy)


def select_classes(items: list[Verified], classes: list[str], min_images: int) -> str:
    """Mark the ok items of classes with fewer than `min_images` ok items `class_dropped`;
    returns why the data set is unusable ('' when it is): no class left, or a class of
    `classes` with no ok image."""
    ok = Counter(i.row.cls for i in items if i.row.status == Status.OK)
    dropped = {c for c in classes if ok[c] < min_images}
    for item in items:
        if item.row.cls in dropped and item.row.status == Status.OK:
            item.row.status = Status.CLASS_DROPPED
            item.row.reason = (f"class has {ok[item.row.cls]} ok images < "
                               f"download.min_images_per_class {min_images}")
    if dropped:
        log.info("%d classes have fewer than min_images_per_class=%d ok images and are left out "
                 "(%d items)", len(dropped), min_images,
                 sum(1 for i in items if i.row.cls in dropped))
    kept = [c for c in classes if c not in dropped]
    if not kept:
        return (f"no class has at least min_images_per_class={min_images} ok images (lower "
                "download.min_images_per_class)")
    empty = [c for c in kept if ok[c] == 0]
    if empty:
        return (f"class {', '.join(empty)}: zero ok images ({_why(items, empty[0])}); fix its "
                "files, or leave it out with download.classes or download.min_images_per_class")
    return ""


def _why(items: list[Verified], cls: str) -> str:
    """Counts per status of the class's items, and the first one's reason."""
    mine = [i.row for i in items if i.row.cls == cls]
    if not mine:
        return "no files"
    statuses = Counter(str(r.status) for r in mine)
    return (", ".join(f"{n} {s}" for s, n in statuses.items())
            + f"; first: {mine[0].source}: {mine[0].reason}")
