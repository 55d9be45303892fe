"""A small head on SFace embeddings, saved as the train stage saves it (model.keras +
model_meta.json), with the impostor bank the calibrate stage keeps beside it (impostors.npz:
held-out people's faces detected in their photos, embedded by the model's embedder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers.embeddings import make_embeddings
from helpers.params import section, stage_config
from starrec.artifacts import IMPOSTORS, MODEL, MODEL_META, SPLIT_CSV, embeddings_file
from starrec.calibrate.unknown import unknown_faces
from starrec.enroll.gallery import write_impostors
from starrec.faces.model_files import ARTIFACTS
from starrec.faces.embed import SfaceEmbedder
from starrec.io import save_keras
from starrec.model_meta import ModelMeta, write_meta
from starrec.predict.model_io import load_classifier
from starrec.train.embedding_head import fit_embedding_head

HEAD_PEOPLE = ["Colin_Powell", "Donald_Rumsfeld", "Tony_Blair"]
# enrolled by the tests (two) and a stranger: never trained on, not in the impostor bank
ENROLL_PEOPLE = ["Serena_Williams", "Vladimir_Putin", "Arnold_Schwarzenegger"]
IMPOSTOR_PEOPLE = 30  # LFW people in the impostor bank
IMPOSTOR_PHOTOS = 4  # photos of each


def sface_head(root: Path, lfw: Path, per_person: int = 12) -> Path:
    """models/ under `root`: a head trained on `per_person` photos of each of HEAD_PEOPLE."""
    cfg = stage_config(root)
    make_embeddings(cfg, lfw, HEAD_PEOPLE, per_person)
    labels = pd.read_csv(cfg.paths.splits / SPLIT_CSV)["label"].to_numpy()
    with np.load(cfg.paths.embeddings / embeddings_file("sface")) as data:
        x = data["x"]
    head, _ = fit_embedding_head(x, labels, None, None, cfg.train.embedding_head, seed=0)
    models = cfg.paths.models
    models.mkdir(parents=True)
    save_keras(head, models / MODEL)
    write_meta(models / MODEL_META, ModelMeta(
        classes=sorted(HEAD_PEOPLE), image_size=SfaceEmbedder.input.size, channels=3,
        extract=cfg.extract, model="embedding_head", embedder="sface",
        embedder_input=SfaceEmbedder.input.to_dict(), embedder_sha256=ARTIFACTS["sface"].sha256))
    return models


def write_impostor_bank(models: Path, people_dir: Path, per_person: int) -> None:
    """impostors.npz beside the model: what calibrate keeps of `predict.unknown` people."""
    predict = section("predict", unknown={"path": str(people_dir), "max_per_person": per_person})
    clf = load_classifier(models / MODEL, models / MODEL_META, predict.batch_size)
    images, people = unknown_faces(predict.unknown, clf.classes, clf.image_size, clf.channels,
                                   clf.extract, predict.max_image_pixels)
    write_impostors(models / IMPOSTORS, clf.embed(images), people)


def sface_model_with_impostors(root: Path, lfw: Path) -> Path:
    """models/model.keras under `root` (`sface_head`) with the impostor bank of
    IMPOSTOR_PEOPLE LFW people, none of HEAD_PEOPLE or ENROLL_PEOPLE."""
    models = sface_head(root, lfw)
    bank = root / "impostor_people"
    bank.mkdir()
    taken = set(HEAD_PEOPLE) | set(ENROLL_PEOPLE)
    people = sorted(d.name for d in lfw.iterdir() if d.is_dir() and d.name not in taken)
    for person in people[:IMPOSTOR_PEOPLE]:
        (bank / person).symlink_to(lfw / person)
    write_impostor_bank(models, bank, IMPOSTOR_PHOTOS)
    return models / MODEL
