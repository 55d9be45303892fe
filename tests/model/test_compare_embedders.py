"""Embedders compared on real LFW-7 faces: SFace against an eigenfaces embedding of the
same photos (PCA of the raw pixels, the classic baseline), by prototype, few-shot prototype
and the Keras head; the table is tidy and the chart a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.decomposition import PCA

from starrec.config import Config
from starrec.evaluate.compare_embedders import compare_embedders, plot_comparison
from starrec.faces.embed import l2_normalise


def eigenfaces(lfw: Path, people: np.ndarray, files: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Unit vectors of 40 whitened principal components of the central 100x100 pixels (gray,
    halved), fitted on the train photos: LFW is roughly aligned, so this is a fair baseline."""
    pixels = np.stack([np.asarray(Image.open(lfw / who / f).convert("L").crop((75, 75, 175, 175))
                                  .resize((50, 50)), np.float32).ravel() / 255
                       for who, f in zip(people, files, strict=True)])
    pca = PCA(40, whiten=True, random_state=0).fit(pixels[train])
    return l2_normalise(pca.transform(pixels))


@pytest.fixture(scope="module")
def scores(lfw_sface, lfw_stars, lfw: Path, cfg: Config) -> pd.DataFrame:
    """LFW-7, 40 photos each: the first 25 train, the other 15 test (105 faces)."""
    emb = lfw_sface.of(lfw_stars[:7])
    train = (pd.Series(emb.people).groupby(emb.people).cumcount() < 25).to_numpy()
    pixels = eigenfaces(lfw, emb.people, emb.files, train)
    split = {name: ((x[train], emb.people[train]), (x[~train], emb.people[~train]))
             for name, x in (("sface", emb.x), ("eigenfaces", pixels))}
    return compare_embedders(split, shots=5, draws=5, seed=0, head=cfg.train.embedding_head)


def test_sface_names_lfw7_and_beats_eigenfaces_everywhere(scores: pd.DataFrame) -> None:
    """Measured: sface 1.0 by prototype, 5-shot and head (accuracy and macro-F1);
    eigenfaces 0.79 / 0.57 / 0.77 (macro-F1 within 0.01)."""
    wide = scores.pivot_table(index=["method", "metric"], columns="embedder", values="value")
    assert len(wide) == 6 and set(wide.index.get_level_values(0)) == {
        "prototype", "prototype_5shot", "head"}
    assert (wide["sface"] >= 0.98).all(), wide
    assert (wide["sface"] - wide["eigenfaces"] >= 0.15).all(), wide
    assert (wide.loc["prototype_5shot", "eigenfaces"] < wide.loc["prototype", "eigenfaces"]).all()
    assert list(scores.columns) == ["embedder", "method", "metric", "value"]


def test_comparison_chart_is_written(scores: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "embedders.png"
    plot_comparison(scores, out, "LFW-7 test", baseline="eigenfaces")
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 500


def test_a_test_class_without_train_faces_is_refused(lfw_sface, lfw_stars, cfg: Config) -> None:
    emb = lfw_sface.of(lfw_stars[:3], per_person=6)
    known = emb.people != lfw_stars[2]
    with pytest.raises(ValueError, match=rf"embedder sface: test classes \['{lfw_stars[2]}'\] "
                                         r"have no train face"):
        compare_embedders({"sface": ((emb.x[known], emb.people[known]), (emb.x, emb.people))},
                          shots=2, draws=1, seed=0, head=cfg.train.embedding_head)
