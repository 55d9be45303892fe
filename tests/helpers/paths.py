"""Where the repository and the shared real data sets are."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PARAMS = REPO_ROOT / "params.yaml"


def shared_datasets() -> Path:
    """`../shared/datasets` beside the repo, or STARREC_SHARED_DATASETS."""
    return Path(os.environ.get("STARREC_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
