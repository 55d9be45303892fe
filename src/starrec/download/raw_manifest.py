"""The raw-photo manifest: one row per item seen, whatever happened to it (README contract)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from starrec.io import write_text_atomic

COLUMNS = ["class", "source", "path", "status", "reason", "bytes", "sha256"]


class Status(StrEnum):
    OK = "ok"
    INVALID_URL = "invalid_url"
    HTTP_ERROR = "http_error"
    CONNECTION_ERROR = "connection_error"
    TIMEOUT = "timeout"
    TRUNCATED = "truncated"
    TOO_LARGE = "too_large"
    NOT_IMAGE = "not_image"
    UNREADABLE = "unreadable"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"  # the same photo under two classes
    UNSAFE_MEMBER = "unsafe_member"
    CLASS_DROPPED = "class_dropped"  # its class is below min_images_per_class or not selected


@dataclass
class Row:
    """One manifest row. `path` is relative to the raw dir and set only when status is ok."""

    cls: str
    source: str
    status: Status
    reason: str = ""
    bytes: int | None = None
    sha256: str = ""
    path: str = ""

    def as_csv(self) -> dict[str, object]:
        d = asdict(self)
        d["class"] = d.pop("cls")
        d["status"] = str(self.status)
        return d


def write_manifest(rows: list[Row], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row.as_csv() for row in rows)
    write_text_atomic(path, buf.getvalue())


def summarize(rows: list[Row]) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """Counts per status, and per class per status (for the log)."""
    per_class: dict[str, Counter[str]] = {}
    for row in rows:
        per_class.setdefault(row.cls, Counter())[str(row.status)] += 1
    return Counter(str(row.status) for row in rows), per_class
