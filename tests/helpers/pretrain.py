"""Tiny pretraining inputs: params for a backbone that trains in seconds, and LFW faces as
arrays (helpers.faces.make_faces_dir crops)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from helpers.params import section
from starrec.config import PretrainParams

PEOPLE = {"Ariel_Sharon": 24, "Hugo_Chavez": 24, "Colin_Powell": 24, "Tony_Blair": 24,
          "Gerhard_Schroeder": 24, "Donald_Rumsfeld": 24}
NO_AUGMENT = {"flip": True, "rotation_deg": 0.0, "zoom": 0.0, "translation": 0.0,
              "contrast": 0.0, "brightness": 0.0}


def tiny_params(**over) -> PretrainParams:
    """params.yaml's pretrain section shrunk to a backbone that trains in seconds on 32x32."""
    base = dict(embedding_dim=32, widths=[16, 32, 64], dropout=0.0, l2=0.0, epochs=2,
                batch_size=32, learning_rate=3e-3, arc_scale=16.0, arc_margin=0.1, pairs=200,
                holdout_people=0.34,
                augment={"rotation_deg": 5.0, "zoom": 0.05, "translation": 0.05})
    return section("pretrain", **{**base, **over})


def load_arrays(faces: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [0, 1] (N, H, W, 1) and class names of a gray faces dir."""
    df = pd.read_csv(faces / "manifest.csv")
    x = np.stack([np.asarray(Image.open(faces / p), dtype=np.float32)[..., None] / 255.0
                  for p in df["path"]])
    return x, df["class"].to_numpy()
