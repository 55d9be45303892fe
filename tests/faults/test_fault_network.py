"""A real HTTP server on 127.0.0.1 misbehaving in every way the downloader meets: each URL
gets its status and reason, the good ones come through, the stage still succeeds."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from helpers.fault_images import HTML
from helpers.faults import Case, case, cases
from helpers.http_routes import fail_then, jpeg, reset, send, stall, trickle
from helpers.stages import download, download_params

from starrec.config import DownloadParams
from starrec.errors import StageError


def params(tmp: Path, **over: object) -> DownloadParams:
    return download_params(**{
        "source": "urls", "cache_dir": str(tmp / "cache"),
        "urls": {"dir": str(tmp / "urls"), "stars": ["brad_pitt"]},
        "http": {"workers": 4, "timeout_s": 0.5, "retries": 2, "backoff_factor": 0.0,
                 "max_bytes": 100_000},
        "min_images_per_class": 0, **over})


URLS = {  # path -> (route, status, reason pattern, case)
    "/404.jpg": (None, "http_error", r"HTTP 404 Not Found",
                 Case("download", "HTTP 404", "row `http_error` (HTTP 404), not retried")),
    "/500.jpg": (fail_then(99, send(jpeg(1))), "http_error",
                 r"HTTP 500 Internal Server Error \(after retries\)",
                 Case("download", "HTTP 500 on every try", "row `http_error` after download.http.retries")),
    "/flaky.jpg": (fail_then(1, send(jpeg(2))), "ok", r"",
                   Case("download", "HTTP 500 once, then the photo", "`ok` after one retry")),
    "/timeout.jpg": (stall(3.0), "timeout", r".*[Rr]ead timed out.*",
                     Case("download", "server accepts, never answers", "row `timeout` after retries")),
    "/reset.jpg": (reset, "connection_error", r"after retries: .*",
                   Case("download", "connection reset (TCP RST)", "row `connection_error` after retries")),
    "/slow.jpg": (trickle(jpeg(3, size=64), 300, 0.2), "ok", r"",
                  Case("download", "slow server: body trickles in under the read timeout", "`ok`")),
    "/cut.jpg": (send(jpeg(4)[:200], length=len(jpeg(4))), "truncated",
                 r"body shorter than Content-Length .*",
                 Case("download", "connection closed mid-body", "row `truncated`")),
    "/html.jpg": (send(HTML, ctype="image/jpeg"), "not_image", r"not an image \(HTML page\)",
                  Case("download", "HTML error page served as image/jpeg", "row `not_image`: HTML page")),
    "/good.jpg": (send(jpeg(5)), "ok", r"", Case("download", "a good URL among the bad",
                                                 "`ok`, stored byte for byte, stage exits 0")),
}


@pytest.fixture(scope="module")
def rows(server, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("urls")
    for path, (route, *_) in URLS.items():
        if route is not None:
            server.routes[path] = route
    (tmp / "urls").mkdir()
    (tmp / "urls" / "brad_pitt_urls.txt").write_text(
        "\n".join(server.url(p) for p in URLS) + "\n")
    out = download(params(tmp), tmp / "raw")
    return pd.read_csv(out / "manifest.csv", keep_default_na=False).assign(dir=str(out))


@cases("path", {p.strip("/"): (p, c) for p, (*_, c) in URLS.items()})
def test_each_url_gets_its_status(rows: pd.DataFrame, server, path: str) -> None:
    _, status, reason, _ = URLS[path]
    r = rows[rows["source"] == server.url(path)].iloc[0]
    assert r["status"] == status, r["reason"]
    assert pd.Series([r["reason"]]).str.fullmatch(reason).all(), r["reason"]
    if status == "ok":
        data = (Path(r["dir"]) / r["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
    assert len(rows) == len(URLS)


def lfw_tar(tmp: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(3):
            info = tarfile.TarInfo(f"lfw_funneled/Ann_Lee/Ann_Lee_000{i}.jpg")
            info.size = len(jpeg(10 + i))
            tar.addfile(info, io.BytesIO(jpeg(10 + i)))
    return buf.getvalue()


@case("download", "LFW archive whose sha256 differs from download.lfw.sha256",
      "StageError naming both hashes and the key; nothing cached, the previous raw dir kept")
def test_checksum_mismatch(server, tmp_path: Path) -> None:
    good = lfw_tar(tmp_path)
    server.routes["/lfw.tgz"] = send(good + b"tampered", ctype="application/octet-stream")
    cfg = params(tmp_path, source="lfw", lfw={"url": server.url("/lfw.tgz"), "filename": "l.tgz",
                                              "sha256": hashlib.sha256(good).hexdigest()})
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "manifest.csv").write_text("previous output\n")
    with pytest.raises(StageError, match=r"/lfw.tgz: sha256 mismatch: got [0-9a-f]{64}, expected "
                                         rf"{hashlib.sha256(good).hexdigest()} \(download.lfw.sha256\)$"):
        download(cfg, tmp_path / "raw")
    assert (tmp_path / "raw" / "manifest.csv").read_text() == "previous output\n"
    assert list((tmp_path / "cache" / "lfw").iterdir()) == []
