"""The `lfw` source on an LFW-style .tgz built from real LFW photos and served locally."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from helpers.http_routes import send
from helpers.stages import download, download_params

from starrec.config import DownloadParams
from starrec.errors import StageError

PEOPLE = {"Colin_Powell": 6, "Tony_Blair": 4, "George_W_Bush": 2}


@pytest.fixture(scope="module")
def lfw_tgz(tmp_path_factory, shared_datasets: Path) -> bytes:
    """`lfw_funneled/<Person>/<Person>_NNNN.jpg` plus a loose pairs file, like the real one."""
    path = tmp_path_factory.mktemp("lfw") / "lfw-funneled.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for person, n in PEOPLE.items():
            for photo in sorted((shared_datasets / "lfw-original-10x10" / person).glob("*.jpg"))[:n]:
                tar.add(photo, f"lfw_funneled/{person}/{photo.name}")
        pairs = path.with_name("pairs_01.txt")
        pairs.write_text("10\n")
        tar.add(pairs, "lfw_funneled/pairs_01.txt")
    return path.read_bytes()


def lfw_params(tmp: Path, url: str, sha256: str, **over: object) -> DownloadParams:
    return download_params(**{
        "source": "lfw", "cache_dir": str(tmp / "cache"),
        "lfw": {"url": url, "sha256": sha256, "filename": "lfw-test.tgz"},
        "http": {"retries": 0, "timeout_s": 5.0}, "min_images_per_class": 0, **over})


def test_lfw_archive_verified_cached_and_selected(server, tmp_path: Path, lfw_tgz: bytes) -> None:
    server.routes["/files/lfw"] = send(lfw_tgz, ctype="application/octet-stream")
    cfg = lfw_params(tmp_path, server.url("/files/lfw"), hashlib.sha256(lfw_tgz).hexdigest(),
                     min_images_per_class=3)
    out = download(cfg, tmp_path / "raw")
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    ok = manifest[manifest["status"] == "ok"]
    assert ok["class"].value_counts().to_dict() == {"Colin_Powell": 6, "Tony_Blair": 4}
    assert set(manifest.loc[manifest["status"] != "ok", "status"]) == {"class_dropped"}
    assert manifest["path"].iloc[0] == "Colin_Powell/Colin_Powell_0001.jpg"
    assert manifest["source"].iloc[0] == (
        f"{server.url('/files/lfw')}#lfw_funneled/Colin_Powell/Colin_Powell_0001.jpg")
    assert sorted(p.name for p in out.iterdir()) == ["Colin_Powell", "Tony_Blair", "manifest.csv"]
    assert (cfg.cache_dir / "lfw" / "lfw-test.tgz").read_bytes() == lfw_tgz

    again = download(cfg.model_copy(update={"classes": ["George_W_Bush"],
                                            "min_images_per_class": 0}), tmp_path / "raw")
    assert server.hits["/files/lfw"] == 1  # the verified cached archive was reused
    rows = pd.read_csv(again / "manifest.csv")
    assert list(rows.loc[rows["status"] == "ok", "class"]) == ["George_W_Bush"] * 2
    assert (rows.loc[rows["class"] != "George_W_Bush", "reason"]
            == "class not in download.classes").all()

    with pytest.raises(StageError, match="no class folder for Nobody_Here"):
        download(cfg.model_copy(update={"classes": ["Nobody_Here"]}), tmp_path / "raw")


def test_checksum_mismatch_is_an_error_and_nothing_is_kept(server, tmp_path: Path,
                                                           lfw_tgz: bytes) -> None:
    server.routes["/files/lfw"] = send(lfw_tgz + b"tampered")
    cfg = lfw_params(tmp_path, server.url("/files/lfw"), hashlib.sha256(lfw_tgz).hexdigest())
    with pytest.raises(StageError, match=r"/files/lfw: sha256 mismatch: got [0-9a-f]{64}, "
                                         r"expected [0-9a-f]{64} \(download.lfw.sha256\)"):
        download(cfg, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
    assert [p.name for p in (cfg.cache_dir / "lfw").iterdir()] == []


def test_corrupted_cache_is_downloaded_again(server, tmp_path: Path, lfw_tgz: bytes) -> None:
    server.routes["/files/lfw"] = send(lfw_tgz)
    cfg = lfw_params(tmp_path, server.url("/files/lfw"), hashlib.sha256(lfw_tgz).hexdigest())
    (cfg.cache_dir / "lfw").mkdir(parents=True)
    (cfg.cache_dir / "lfw" / "lfw-test.tgz").write_bytes(lfw_tgz[:1000])
    out = download(cfg, tmp_path / "raw")
    assert server.hits["/files/lfw"] == 1
    assert len(pd.read_csv(out / "manifest.csv")) == sum(PEOPLE.values())


def test_params_lfw_archive_is_scikit_learns() -> None:
    from sklearn.datasets import _lfw

    lfw = download_params().lfw
    assert (lfw.url, lfw.sha256) == (_lfw.FUNNELED_ARCHIVE.url, _lfw.FUNNELED_ARCHIVE.checksum)
