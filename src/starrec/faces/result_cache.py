"""Per-photo results kept between runs, so a photo already seen costs a hash, not a detection.

DVC re-runs `extract_faces` and `embed` as a whole when one photo is added; this cache makes
that re-run cost the new photo. An entry is addressed by a key (`result_key`) built from
everything that changes the result — the input's sha256, the params, the model files'
sha256s, the code and library versions — so a stale entry is never found, only missed.
Each file holds its key and its payload's sha256: a corrupt or foreign entry (truncated,
edited, copied under another name) is a warning naming the file, removed, and recomputed,
never a wrong row. The cache is capped (`face_cache.max_mb`): the least recently used
entries go first. It is not a stage input: what a stage writes is byte-identical with or
without it (tests/stages/test_result_cache.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from starrec.io import temp_sibling

log = logging.getLogger(__name__)

MAGIC = b"starrec-result-cache 1\n"


def result_key(kind: str, *parts: Any) -> str:
    """sha256 of `kind` and the JSON of `parts` (plain values: str, numbers, lists, dicts)."""
    text = json.dumps([kind, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def code_sha256(*modules: Any) -> str:
    """sha256 of the source files of `modules`: the code that computes a cached result."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def library_versions(*packages: str) -> dict[str, str | None]:
    """The installed version of each package (None: not installed): part of a key when the
    library's code computes the result."""
    found: dict[str, str | None] = {}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


@dataclass(frozen=True)
class ResultCache:
    """Entries under `root/<kind>/<key[:2]>/<key>`; `root` None: a cache that keeps nothing.
    Picklable, so pool and Beam workers (which must see `root`) read and write it too."""

    root: Path | None
    kind: str
    max_bytes: int = 2 << 30

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / self.kind / key[:2] / key

    def get(self, key: str) -> bytes | None:
        """The payload stored under `key`, or None (absent, or corrupt: warned and removed)."""
        if self.root is None:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("%s: cache entry unreadable (%s); recomputing", path, exc)
            return None
        head, sep, payload = data[len(MAGIC):].partition(b"\n")
        stored_key, _, digest = head.decode("ascii", "replace").partition(" ")
        if (not data.startswith(MAGIC) or not sep or stored_key != key
                or hashlib.sha256(payload).hexdigest() != digest):
            why = ("holds another entry (foreign)" if sep and stored_key and stored_key != key
                   else "corrupt")
            log.warning("%s: cache entry %s; removed and recomputed", path, why)
            path.unlink(missing_ok=True)
            return None
        os.utime(path)  # recently used: evicted last
        return payload

    def put(self, key: str, payload: bytes) -> None:
        """Store `payload` under `key` (atomically: a killed writer leaves no half entry)."""
        if self.root is None:
            return
        path = self._path(key)
        head = f"{key} {hashlib.sha256(payload).hexdigest()}\n".encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_sibling(path)
            tmp.write_bytes(MAGIC + head + payload)
            os.replace(tmp, path)
        except OSError as exc:  # a full or read-only cache costs speed, never the stage
            log.warning("%s: cannot write cache entry (%s)", path, exc)

    def get_json(self, key: str) -> Any | None:
        payload = self.get(key)
        if payload is None:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            log.warning("%s: cache entry is not JSON; recomputing", self._path(key))
            return None

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value, separators=(",", ":")).encode())

    def prune(self) -> int:
        """Remove the least recently used entries of this kind until it fits `max_bytes`;
        the number removed."""
        if self.root is None or not (self.root / self.kind).is_dir():
            return 0
        stats = [(e.stat(), Path(e.path)) for d in os.scandir(self.root / self.kind)
                 if d.is_dir() for e in os.scandir(d.path) if e.is_file()]
        entries = sorted((st.st_mtime, st.st_size, path) for st, path in stats)
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        if removed:
            log.info("%s: %d least recently used entries removed (cap %d MB)",
                     self.root / self.kind, removed, self.max_bytes >> 20)
        return removed
