"""Shared fixtures: where the real data sets live, and quiet, offline-safe env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _key, _value in {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}.items():
    os.environ.setdefault(_key, _value)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """`../shared/datasets` beside the repo, or STARREC_SHARED_DATASETS."""
    path = Path(os.environ.get("STARREC_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
    if not path.is_dir():
        pytest.fail(f"{path}: shared datasets not found (set STARREC_SHARED_DATASETS)")
    return path


def make_faces_dir(
    dest: Path, source: Path, people: dict[str, int], image_size: int = 32, channels: int = 1
) -> Path:
    """A small faces dir that follows the faces-manifest contract (see README), built from
    real aligned LFW photos by a centre crop — lets dataset-stage tests run without a detector."""
    import hashlib

    import imagehash
    import pandas as pd
    from PIL import Image

    rows = []
    for person, count in people.items():
        (dest / person).mkdir(parents=True, exist_ok=True)
        for photo in sorted((source / person).glob("*.jpg"))[:count]:
            img = Image.open(photo).convert("L" if channels == 1 else "RGB")
            face = img.crop((70, 70, 180, 180)).resize((image_size, image_size), Image.BICUBIC)
            rel = f"{person}/{photo.stem}_f0.png"
            face.save(dest / rel)
            data = (dest / rel).read_bytes()
            rows.append({
                "face_id": f"{person}/{photo.stem}_f0", "class": person, "path": rel,
                "source_path": f"{person}/{photo.name}",
                "source_sha256": hashlib.sha256(photo.read_bytes()).hexdigest(),
                "status": "ok", "reason": "", "detector": "test", "score": 1.0,
                "box_x": 70, "box_y": 70, "box_w": 110, "box_h": 110, "face_size": 110,
                "height": image_size, "width": image_size, "channels": channels,
                "blur_var": 100.0, "sha256": hashlib.sha256(data).hexdigest(),
                "phash": str(imagehash.phash(face)),
            })
    pd.DataFrame(rows).to_csv(dest / "manifest.csv", index=False)
    return dest


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """Faces of 3 LFW people (30/25/20 photos), 32x32 gray."""
    return make_faces_dir(
        tmp_path_factory.mktemp("faces"),
        shared_datasets / "lfw-subset",
        {"Ariel_Sharon": 30, "Hugo_Chavez": 25, "Colin_Powell": 20},
    )
