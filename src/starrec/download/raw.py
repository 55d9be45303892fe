"""The raw-photo dir: ok files copied to `<class>/<stem>.<ext>` beside the manifest of every
item seen, and a per-class summary in the log."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from starrec.artifacts import MANIFEST
from starrec.download.ingest import Verified
from starrec.download.raw_manifest import Row, Status, summarize, write_manifest
from starrec.io import atomic_dir

log = logging.getLogger(__name__)


def write_raw(items: list[Verified], refused: list[Row], out_dir: Path) -> list[Row]:
    """Copy the ok files to `<class>/<stem>.<ext>` (unique) and write the manifest, as one
    atomic swap of `out_dir`; returns the manifest rows."""
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
        write_manifest(rows, tmp / MANIFEST)
    return rows


# statuses not warned about one by one here: fine, counted, or warned about when they arose
QUIET = (Status.OK, Status.DUPLICATE, Status.CLASS_DROPPED, Status.CONFLICT, Status.UNSAFE_MEMBER)


def log_summary(rows: list[Row], out_dir: Path) -> None:
    for row in rows:
        if row.status not in QUIET:
            log.warning("%s: %s (%s)", row.source, row.status, row.reason)
    totals, per_class = summarize(rows)
    log.info("%s: %d items: %s", out_dir, len(rows),
             ", ".join(f"{n} {s}" for s, n in totals.most_common()))
    for cls, counts in sorted(per_class.items()):
        log.info("  %-30s %s", cls or "(no class)",
                 ", ".join(f"{n} {s}" for s, n in counts.most_common()))
