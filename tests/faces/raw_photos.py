"""Raw dirs in the download stage's contract (README), built from real shared photos."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

LFW10 = "lfw-original-10x10"
FIVE = "five-celebrity-faces"
FIVE_PNG_AS_JPG = "train/ben_afflek/httpwwwrumenewscomwpcontentuploadsbenafflekxpng.jpg"
FIVE_GRAY = "val/madonna/httpcdnfuncheapcomwpcontentuploadsVOGUEjpg.jpg"


def make_raw(dest: Path, items: list[tuple[str, str, bytes]]) -> Path:
    """`dest/<class>/<name>` + manifest.csv (status ok) from (class, name, bytes) items."""
    rows = []
    for cls, name, data in items:
        (dest / cls).mkdir(parents=True, exist_ok=True)
        (dest / cls / name).write_bytes(data)
        rows.append({"class": cls, "source": f"test:{cls}/{name}", "path": f"{cls}/{name}",
                     "status": "ok", "reason": "", "bytes": len(data),
                     "sha256": hashlib.sha256(data).hexdigest()})
    pd.DataFrame(rows).to_csv(dest / "manifest.csv", index=False)
    return dest


def copy_photos(files: list[Path]) -> list[tuple[str, str, bytes]]:
    """Raw items for real photos; the class is the photo's folder name."""
    return [(f.parent.name, f.name, f.read_bytes()) for f in files]


def read_manifest(faces_dir: Path) -> pd.DataFrame:
    return pd.read_csv(faces_dir / "manifest.csv", dtype=str, keep_default_na=False)


