"""Small data dirs in the stages' contracts (README), built from real shared photos."""

from __future__ import annotations

import hashlib
from pathlib import Path

import imagehash
import pandas as pd
from PIL import Image

LFW10 = "lfw-original-10x10"
FIVE = "five-celebrity-faces"
FIVE_PNG_AS_JPG = "train/ben_afflek/httpwwwrumenewscomwpcontentuploadsbenafflekxpng.jpg"
FIVE_GRAY = "val/madonna/httpcdnfuncheapcomwpcontentuploadsVOGUEjpg.jpg"


def make_faces_dir(dest: Path, source: Path, people: dict[str, int], image_size: int = 32,
                   channels: int = 1) -> Path:
    """A faces dir in the faces-manifest contract, built from real aligned LFW photos by a
    centre crop: the data stages after extract_faces, without a detector."""
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


def split_table(faces_dir: Path, split_of) -> pd.DataFrame:
    """split.csv rows for a faces dir; `split_of(class_rank, class_size)` names each face's
    split (faces of a class taken in face_id order)."""
    faces = pd.read_csv(faces_dir / "manifest.csv").sort_values("face_id")
    classes = sorted(faces["class"].unique())
    rank = faces.groupby("class").cumcount()
    size = faces.groupby("class")["face_id"].transform("size")
    return pd.DataFrame({"face_id": faces["face_id"], "class": faces["class"],
                         "label": faces["class"].map(classes.index), "path": faces["path"],
                         "split": [split_of(r, n) for r, n in zip(rank, size, strict=True)],
                         "group": faces["face_id"]})
