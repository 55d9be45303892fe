import numpy as np
import pandas as pd
from helpers.params import section
from PIL import Image

from starrec.evaluate.baseline import class_scores, fit_eigenfaces
from starrec.evaluate.metrics import classification_metrics


def _load(faces_dir):
    manifest = pd.read_csv(faces_dir / "manifest.csv")
    names = sorted(manifest["class"].unique())
    x = np.stack([np.asarray(Image.open(faces_dir / p), np.float32)[..., None] / 255
                  for p in manifest["path"]])
    y = manifest["class"].map(names.index).to_numpy()
    return x, y, names


def test_eigenfaces_beats_chance_on_real_faces(faces_dir) -> None:
    x, y, names = _load(faces_dir)
    test = np.arange(len(y)) % 4 == 0  # every 4th photo of each person is held out
    model = fit_eigenfaces(x[~test], y[~test], section("evaluate", baseline_components=30))
    scores = class_scores(model, x[test], len(names))
    assert scores.shape == (test.sum(), 3)
    m = classification_metrics(y[test], scores.argmax(1), scores, names, top_k=2)
    chance = np.bincount(y[test]).max() / test.sum()  # majority-class rate
    assert m["accuracy"] > chance + 0.2, m["accuracy"]
    assert model.components == model.pipeline.named_steps["pca"].n_components_ == 30
    assert set(model.best_params) == {"C", "gamma"} and 0 < model.cv_accuracy <= 1


def test_class_scores_cover_classes_missing_from_train(faces_dir) -> None:
    x, y, _ = _load(faces_dir)
    keep = y != 2  # train on 2 of the 3 people: binary SVC, third class never seen
    model = fit_eigenfaces(x[keep], y[keep], section("evaluate", baseline_components=10))
    scores = class_scores(model, x[:5], 3)
    assert scores.shape == (5, 3) and np.isfinite(scores).all()
    assert (scores[:, 2] < scores[:, :2].min(axis=1)).all()
