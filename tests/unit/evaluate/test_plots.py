import json

import numpy as np
import pandas as pd
from PIL import Image

from starrec.evaluate.metrics import confusion
from starrec.evaluate.plots import (
    confusion_rows,
    learning_curve_rows,
    plot_confusion,
    plot_misclassified,
)


def test_confusion_png_grows_with_class_count(tmp_path) -> None:
    sizes = {}
    for n in (3, 62):
        rng = np.random.default_rng(n)
        y_true = rng.integers(0, n, 400)
        y_pred = np.where(rng.random(400) < 0.8, y_true, rng.integers(0, n, 400))
        names = [f"Person_Number_{i}" for i in range(n)]
        path = tmp_path / f"cm{n}.png"
        plot_confusion(confusion(y_true, y_pred, n), names, path, "cnn")
        sizes[n] = Image.open(path).size
    assert sizes[62][0] > 2.5 * sizes[3][0] and sizes[62][1] > 2.5 * sizes[3][1]
    assert not list(tmp_path.glob(".*.tmp"))


def test_misclassified_gallery(tmp_path) -> None:
    images = np.random.default_rng(0).random((5, 16, 16, 1)).astype(np.float32)
    path = tmp_path / "mis.png"
    plot_misclassified(images, ["a"] * 5, ["b"] * 5, [0.9, 0.8, 0.7, 0.6, 0.5], path)
    assert Image.open(path).size[0] > 200
    empty = tmp_path / "none.png"
    plot_misclassified(np.zeros((0, 16, 16, 3)), [], [], [], empty)
    assert Image.open(empty).format == "PNG"


def test_dvc_rows(tmp_path) -> None:
    rows = confusion_rows(np.array([0, 1, 1]), np.array([0, 0, 1]), ["a", "b"])
    assert rows == [{"actual": "a", "predicted": "a"}, {"actual": "b", "predicted": "a"},
                    {"actual": "b", "predicted": "b"}]
    history = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [0, 1], "loss": [1.0, 0.5], "accuracy": [0.3, 0.6],
                  "val_loss": [1.1, 0.7], "val_accuracy": [0.2, 0.5],
                  "lr": [1e-3, 5e-4]}).to_csv(history, index=False)
    curve = learning_curve_rows(history)
    assert curve[1] == {"epoch": 1, "loss": 0.5, "val_loss": 0.7, "accuracy": 0.6,
                        "val_accuracy": 0.5, "lr": 5e-4}
    json.dumps(curve)  # plain Python types
