"""Read the faces manifest (README contract) with text columns kept as text.

Hashes such as phash `0123456789012345` would otherwise be parsed as numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from starrec.errors import StageError

TEXT_COLUMNS = ("face_id", "class", "path", "source_path", "source_sha256", "status", "reason",
                "detector", "sha256", "phash")


def read_faces_manifest(path: Path) -> pd.DataFrame:
    """All rows of `path` (faces and recorded failures); numeric columns keep their parsed type."""
    try:
        return pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS})
    except (OSError, ValueError) as exc:
        raise StageError(f"{path}: cannot read faces manifest ({exc})") from exc


def ok_faces(manifest: pd.DataFrame) -> pd.DataFrame:
    """The rows that are faces (`status == ok`); a manifest without `status` is all faces."""
    if "status" not in manifest.columns:
        return manifest.reset_index(drop=True)
    return manifest[manifest["status"] == "ok"].reset_index(drop=True)
