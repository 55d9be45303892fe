"""Figures stay a size a screen shows whole, however many classes a data set has."""

import numpy as np
import pandas as pd
from PIL import Image

from starrec.dataset.split_plot import MAX_CLASSES, plot_split_counts
from starrec.faces.preview import write_preview
from starrec.train.report import plot_learning_curves


def test_public_sized_data_sets_give_screen_sized_charts(tmp_path) -> None:
    names = [f"Person_{i:02d}" for i in range(62)]
    counts = pd.DataFrame({"train": range(62), "val": 5, "test": 5}, index=names)
    plot_split_counts(counts, tmp_path / "counts.png")
    assert Image.open(tmp_path / "counts.png").size[0] <= 800
    assert Image.open(tmp_path / "counts.png").size[1] <= 0.28 * 100 * MAX_CLASSES + 200

    Image.fromarray(np.full((112, 112, 3), 128, np.uint8)).save(tmp_path / "f.png")
    faces = pd.DataFrame({"class": np.repeat(names, 3), "face_id": range(186), "path": "f.png"})
    write_preview(faces, tmp_path, tmp_path / "preview.png", 8)
    width, height = Image.open(tmp_path / "preview.png").size
    assert width < 1000 and height < 1600  # 62 rows were 5456 px high


def test_learning_curves_count_epochs_from_one(tmp_path) -> None:
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.6],
                            "accuracy": [0.3, 0.6, 0.6], "val_loss": [1.1, 0.7, 0.8],
                            "val_accuracy": [0.3, 0.5, 0.5]})
    plot_learning_curves(history, tmp_path / "curves.png", "t")
    assert Image.open(tmp_path / "curves.png").size == (1000, 400)
