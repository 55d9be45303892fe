"""The embed stage's contract built from real photos: YuNet + SFace on LFW faces →
`<embeddings>/sface.npz` (face_id, x) + meta.json, with the star split.csv it is keyed by, so
model-side tests do not need the data stages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from starrec.artifacts import EMBEDDINGS_META, SPLIT_CSV, embeddings_file
from starrec.config import Config
from starrec.faces.model_files import ARTIFACTS, model_file
from starrec.faces.detectors import YunetDetector, detect_scaled
from starrec.faces.embed import SfaceEmbedder
from starrec.faces.image import decode_rgb


def make_embeddings(cfg: Config, photos: Path, people: list[str], per_person: int) -> None:
    """split.csv in cfg.paths.splits (per person: 60/20/20 by photo order) and sface.npz +
    meta.json in cfg.paths.embeddings, from the central face of `per_person` photos each."""
    yunet = YunetDetector(cfg.extract.yunet, model_file("yunet", cfg.faces.models, None))
    sface = SfaceEmbedder(model_file("sface", cfg.faces.models, None))
    rows, x = [], []
    for label, who in enumerate(sorted(people)):
        files = sorted((photos / who).glob("*.jpg"))[:per_person]
        n_train, n_val = round(0.6 * len(files)), round(0.2 * len(files))
        for i, f in enumerate(files):
            rgb = decode_rgb(f)
            h, w = rgb.shape[:2]
            found = detect_scaled(yunet, rgb, cfg.extract.detect_max_side, 1)
            face = min(found, key=lambda d: (d.box[0] + d.box[2] / 2 - w / 2) ** 2
                       + (d.box[1] + d.box[3] / 2 - h / 2) ** 2)
            x.append(sface.embed(sface.prepare(rgb, face)[None])[0])
            split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
            rows.append({"face_id": f"{who}/{f.stem}", "class": who, "label": label,
                         "path": f"{who}/{f.stem}.png", "split": split, "group": len(rows)})
    cfg.paths.splits.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(cfg.paths.splits / SPLIT_CSV, index=False)
    out = cfg.paths.embeddings
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / embeddings_file("sface"), face_id=np.array([r["face_id"] for r in rows]),
             x=np.asarray(x, np.float32))
    (out / EMBEDDINGS_META).write_text(json.dumps({"sface": {
        "dim": len(x[0]), "licence": ARTIFACTS["sface"].licence,
        "input": sface.input.to_dict(), "model_sha256": ARTIFACTS["sface"].sha256}}))
