"""Stage `pretrain` end to end on real TFRecords: star people excluded, outputs written, the
embedding verifies held-out people clearly better than chance, the backbone registered in a
real sqlite MLflow."""

from __future__ import annotations

import json

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.faces import make_faces_dir, split_table
from helpers.params import stage_config
from helpers.pretrain import NO_AUGMENT, PEOPLE, tiny_params
from helpers.stages import run_main, tfrecords_of
from helpers.tracking import store

from starrec.artifacts import PUBLIC, STARS

# 14 LFW people with >= 30 photos: 12 left once the stars are excluded, 4 of them held out
PUBLIC_PEOPLE = (*PEOPLE, "Alejandro_Toledo", "Andre_Agassi", "Arnold_Schwarzenegger",
                 "George_W_Bush", "Jacques_Chirac", "Jean_Chretien", "John_Ashcroft",
                 "Vladimir_Putin")


@pytest.fixture(scope="module")
def public_set(tmp_path_factory, shared_datasets):
    """TFRecords of the public people, 30 faces each."""
    people = {p: 30 for p in PUBLIC_PEOPLE}
    root = tmp_path_factory.mktemp("public")
    faces = make_faces_dir(root / "faces", shared_datasets / "lfw-subset", people)
    table = split_table(faces, lambda rank, n: ("train", "train", "train", "val", "test")[rank % 5])
    return tfrecords_of(faces, table, root, shard_size=100)


def test_pretrain_excludes_targets_and_registers_backbone(tmp_path, public_set):
    stars = tmp_path / "stars"  # the star data set's raw manifest
    stars.mkdir()
    pd.DataFrame({"class": ["colin powell", "TONY_BLAIR", "ben_afflek"],
                  "status": ["ok", "ok", "ok"]}).to_csv(stars / "manifest.csv", index=False)
    cfg = stage_config(tmp_path, datasets={PUBLIC: {"paths": {"tfrecords": str(public_set)}},
                                           STARS: {"paths": {"raw": str(stars)}}})
    tracking = store(tmp_path / "mlflow", "t")
    run_main("pretrain", cfg.model_copy(update={
        "mlflow": tracking,
        "pretrain": tiny_params(epochs=25, holdout_people=0.34, augment=NO_AUGMENT)}))
    models = cfg.paths.models
    report = json.loads((models / "backbone_report.json").read_text())

    assert report["excluded_targets"] == ["Colin_Powell", "Tony_Blair"]
    held = report["identities"]["held_out_people"]
    assert report["identities"] == {"train": 8, "held_out": 4, "held_out_people": held}
    assert not {"Colin_Powell", "Tony_Blair"} & set(held)
    impostors = np.load(models / "backbone_impostors.npz")
    assert set(impostors["names"]) == set(held)
    # four people it never saw: same-person pairs rank clearly above different-person ones
    # (chance is an AUC of 0.5)
    verify = report["verification"]
    assert verify["roc_auc"] > 0.65 and verify["mean_same"] > verify["mean_different"]
    meta = json.loads((models / "backbone_meta.json").read_text())
    assert (meta["image_size"], meta["channels"], meta["embedding_dim"]) == (32, 1, 32)
    backbone = keras.saving.load_model(models / "backbone.keras")
    assert backbone.output_shape == (None, 32)

    mlflow.set_tracking_uri(tracking.tracking_uri)
    loaded = mlflow.keras.load_model(f"models:/starrec-backbone/{report['mlflow']['model_version']}")
    x = np.random.default_rng(0).random((2, *backbone.input_shape[1:]), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), backbone.predict(x, verbose=0),
                               atol=1e-5)
    run = mlflow.get_run(report["mlflow"]["run_id"])
    assert run.data.metrics["verify_roc_auc"] == pytest.approx(verify["roc_auc"])
    assert run.data.params["pretrain.epochs"] == "25"
