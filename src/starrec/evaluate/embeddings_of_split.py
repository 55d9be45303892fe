"""The train and test faces of the star split as embedded by any embedder, for the research
comparison (pipelines/compare.py): the embed stage's vectors for the default embedder, the
pretrain stage's backbone on the TFRecord crops for `own`, and any other embedder run on the
faces manifest's detections."""

from __future__ import annotations

import numpy as np

from starrec.artifacts import BACKBONE, MANIFEST, embeddings_file
from starrec.config import Config
from starrec.dataset.faces_manifest import read_faces_manifest
from starrec.faces.model_files import ModelFileError
from starrec.faces.embed import embed, embed_manifest, make_embedder
from starrec.train.embedding_data import embeddings_of

Faces = tuple[np.ndarray, np.ndarray]  # crops (N, H, W, C) float32 [0, 1], face ids (N,)


def split_embeddings(cfg: Config, name: str, train: Faces, test: Faces
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) embeddings of the split's faces by embedder `name`."""
    if name == "sface":
        npz = cfg.paths.embeddings / embeddings_file(name)
        return tuple(embeddings_of(npz, train[1], test[1]))
    if name == "own":
        backbone = cfg.paths.models / BACKBONE
        if not backbone.is_file():
            raise ModelFileError(f"{backbone}: not found (dvc repro research/dvc.yaml:pretrain)")
        import keras  # after starrec: its start-up lines silenced (starrec.log)

        model = keras.saving.load_model(backbone, compile=False)
        return embed(model, train[0]), embed(model, test[0])
    embedder = make_embedder(cfg.faces, cfg.download.http, name)
    faces = read_faces_manifest(cfg.paths.faces / MANIFEST).set_index("face_id", drop=False)
    return tuple(embed_manifest(embedder, faces.loc[ids].reset_index(drop=True),
                                cfg.paths.faces, cfg.paths.raw, cfg.download.max_image_pixels)
                 for ids in (train[1], test[1]))
