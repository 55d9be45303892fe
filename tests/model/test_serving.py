"""The pyfunc model: logged and registered in a real sqlite MLflow, loaded back by URI, and
served by a real `mlflow models serve` answering a real photo and bad payloads."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import urllib3
from helpers.models import calibrated_copy
from helpers.params import section
from helpers.tracking import store, using
from mlflow.exceptions import MlflowException

from starrec.faces.model_files import resolve_model_file
from starrec.faces.image import decode_rgb
from starrec.serve.load import load_predictor
from starrec.serve.pyfunc import encode_image, face_model_names, log_pyfunc, request_json
from starrec.serve.server import model_server

NAME = "starrec-test-pyfunc"
MAX_BYTES = 300_000


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, model_dir, known_splits, unknown_faces_arrays) -> Path:
    return calibrated_copy(model_dir, known_splits["val"], unknown_faces_arrays[::2],
                           tmp_path_factory.mktemp("cal") / "m")


@pytest.fixture(scope="module")
def registry(tmp_path_factory, calibrated) -> str:
    """A sqlite tracking store holding the pyfunc model, alias champion; yields its URI."""
    tracking = store(tmp_path_factory.mktemp("mlflow"), "serve-test")
    with using(tracking.tracking_uri):
        with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name(
                "serve-test").experiment_id):
            files = {n: resolve_model_file(n) for n in face_model_names(calibrated)}
            info = log_pyfunc(calibrated, section("predict", registered_model=NAME,
                                                  max_image_bytes=MAX_BYTES), files)
        mlflow.MlflowClient().set_registered_model_alias(NAME, "champion",
                                                          info.registered_model_version)
        yield tracking.tracking_uri


def load(uri: str):
    return load_predictor(uri, 3, 64)


def photo(shared_datasets: Path) -> Path:
    return shared_datasets / "lfw-original-10x10" / "Colin_Powell" / "Colin_Powell_0001.jpg"


def test_registered_model_predicts_like_local_files(registry, calibrated, shared_datasets) -> None:
    rgb = decode_rgb(photo(shared_datasets).read_bytes())
    served = load(f"models:/{NAME}@champion")(rgb)
    local = load(str(calibrated / "model.keras"))(rgb)
    assert served and [f.to_json() for f in served] == [f.to_json() for f in local]


@pytest.mark.parametrize(("value", "message"), [
    ("%%% not base64 %%%", "not valid base64"),
    (base64.b64encode(b"hello, not an image").decode(), "not a readable image"),
    (base64.b64encode(os.urandom(MAX_BYTES + 10)).decode(), "too large"),
])
def test_bad_payloads_are_invalid_parameter_errors(registry, value, message) -> None:
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    with pytest.raises(MlflowException, match=message) as err:
        model.predict(pd.DataFrame({"image": [value]}))
    assert err.value.get_http_status_code() == 400


def test_concurrent_calls_answer_like_sequential_ones(registry, shared_datasets) -> None:
    """The server calls predict from several threads at once: each answer must be the one
    the photo gets alone (OpenCV's detector keeps per-call state; unguarded, concurrent
    calls returned other photos' faces)."""
    from concurrent.futures import ThreadPoolExecutor

    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    people = sorted((shared_datasets / "lfw-original-10x10").iterdir())[:8]
    photos = [encode_image(sorted(p.glob("*.jpg"))[0]) for p in people if p.is_dir()]
    alone = [model.predict(pd.DataFrame({"image": [b64]}))[0] for b64 in photos]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda b64: model.predict(pd.DataFrame({"image": [b64]}))[0],
                                 photos * 4))
    assert together == alone * 4


@pytest.mark.timeout(300)
def test_mlflow_models_serve_answers_photos_and_bad_payloads(registry, shared_datasets) -> None:
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=120), retries=False)
    with model_server(f"models:/{NAME}@champion", registry, timeout_s=180) as base:
        def post(body: str) -> urllib3.BaseHTTPResponse:
            return http.request("POST", f"{base}/invocations", body=body,
                                headers={"Content-Type": "application/json"})

        sky = np.zeros((60, 80, 3), np.uint8)
        import cv2

        sky_b64 = base64.b64encode(cv2.imencode(".png", sky)[1].tobytes()).decode()
        ok = post(request_json([encode_image(photo(shared_datasets)), sky_b64]))
        assert ok.status == 200, ok.data[:500]
        preds = ok.json()["predictions"]
        assert preds[0]["n_faces"] >= 1 and preds[1] == {"n_faces": 0, "faces": []}
        face = preds[0]["faces"][0]
        assert {"box", "label", "confidence", "score", "top"} <= set(face)
        assert len(face["box"]) == 4 and 0 < face["confidence"] <= 1

        bad = post(request_json(["%%% not base64 %%%"]))
        assert bad.status == 400 and "not valid base64" in bad.json()["message"]
        not_image = post(request_json([base64.b64encode(b"plain text").decode()]))
        assert not_image.status == 400 and "not a readable image" in not_image.json()["message"]
        wrong_column = post('{"dataframe_split": {"columns": ["photo"], "data": [["x"]]}}')
        assert 400 <= wrong_column.status < 500
