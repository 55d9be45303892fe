"""Safe extraction: hostile tar and zip members are refused and recorded, never written."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from helpers.http_routes import jpeg, send
from helpers.stages import download, download_params

from starrec.config import ArchiveLimits, DownloadParams
from starrec.download.archive import safe_extract
from starrec.errors import StageError


def limits(files: int, total: int, member: int) -> ArchiveLimits:
    return download_params(archive={"max_files": files, "max_total_bytes": total,
                                    "max_member_bytes": member}).archive


LIMITS = limits(100, 1_000_000, 100_000)


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_special(tar: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    tar.addfile(info)


def hostile_tar(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        add_file(tar, "photos/alice/a1.jpg", jpeg(1))
        add_file(tar, "photos/alice/a2.jpg", jpeg(2))
        add_file(tar, "photos/bob/b1.jpg", jpeg(3))
        add_file(tar, "../evil.jpg", jpeg(4))
        add_file(tar, "photos/../../evil2.jpg", jpeg(5))
        add_file(tar, "/tmp/starrec-abs-evil.jpg", jpeg(6))
        add_special(tar, "photos/alice/link.jpg", tarfile.SYMTYPE, "/etc/passwd")
        add_special(tar, "photos/alice/hard.jpg", tarfile.LNKTYPE, "photos/alice/a1.jpg")
        add_special(tar, "photos/bob/dev", tarfile.CHRTYPE)
        add_special(tar, "photos/bob/fifo", tarfile.FIFOTYPE)
    return path


def hostile_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("alice/a1.jpg", jpeg(1))
        zf.writestr("bob/b1.jpg", jpeg(3))
        zf.writestr("../evil.jpg", jpeg(4))
        zf.writestr("/abs-evil.jpg", jpeg(5))
        zf.writestr("alice\\..\\..\\win-evil.jpg", jpeg(6))
        link = zipfile.ZipInfo("alice/link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    return path


def test_tar_slip_links_and_devices_are_refused(tmp_path: Path) -> None:
    dest = tmp_path / "x" / "out"
    refused = safe_extract(hostile_tar(tmp_path / "h.tgz"), dest, LIMITS, "h.tgz")
    reasons = {r.source.split("#", 1)[1]: r.reason for r in refused}
    assert set(reasons) == {"../evil.jpg", "photos/../../evil2.jpg", "/tmp/starrec-abs-evil.jpg",
                            "photos/alice/link.jpg", "photos/alice/hard.jpg", "photos/bob/dev",
                            "photos/bob/fifo"}
    assert "traversal" in reasons["../evil.jpg"] and "absolute" in reasons["/tmp/starrec-abs-evil.jpg"]
    assert "symlink" in reasons["photos/alice/link.jpg"]
    assert "hard link" in reasons["photos/alice/hard.jpg"]
    assert all(r.status == "unsafe_member" for r in refused)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["h.tgz", "x/out/photos/alice/a1.jpg", "x/out/photos/alice/a2.jpg",
                       "x/out/photos/bob/b1.jpg"]
    assert not Path("/tmp/starrec-abs-evil.jpg").exists()


def test_zip_slip_and_symlinks_are_refused(tmp_path: Path) -> None:
    dest = tmp_path / "x" / "out"
    refused = safe_extract(hostile_zip(tmp_path / "h.zip"), dest, LIMITS, "h.zip")
    assert {r.source for r in refused} == {"h.zip#../evil.jpg", "h.zip#/abs-evil.jpg",
                                           "h.zip#alice\\..\\..\\win-evil.jpg", "h.zip#alice/link.jpg"}
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["h.zip", "x/out/alice/a1.jpg", "x/out/bob/b1.jpg"]


def test_caps_and_entirely_unsafe_archives_are_errors(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "many.tar", "w") as tar:
        for i in range(4):
            add_file(tar, f"a/{i}.jpg", jpeg(i))
    small = limits(3, 10_000_000, 100_000)
    with pytest.raises(StageError, match="many.tar: 4 members > max_files 3"):
        safe_extract(tmp_path / "many.tar", tmp_path / "o1", small, "many.tar")
    tight = limits(10, 1000, 100_000)
    with pytest.raises(StageError, match="bytes uncompressed > max_total_bytes 1000"):
        safe_extract(tmp_path / "many.tar", tmp_path / "o2", tight, "many.tar")
    one = limits(10, 10_000_000, len(jpeg(0)) - 1)
    with pytest.raises(StageError, match="no safe file in the archive \\(4 refused\\)"):
        safe_extract(tmp_path / "many.tar", tmp_path / "o3", one, "many.tar")
    (tmp_path / "notarchive.zip").write_bytes(b"hello")
    with pytest.raises(StageError, match="notarchive.zip: not a zip or tar archive"):
        safe_extract(tmp_path / "notarchive.zip", tmp_path / "o4", LIMITS, "notarchive.zip")


def folder_params(tmp: Path, path: str, **over: object) -> DownloadParams:
    return download_params(**{
        "source": "folder", "folder": {"path": path}, "cache_dir": str(tmp / "cache"),
        "archive": LIMITS.model_dump(), "min_images_per_class": 0, **over})


def test_folder_source_from_an_archive_file_records_refused_members(tmp_path: Path) -> None:
    archive = hostile_tar(tmp_path / "photos.tar.gz")
    out = download(folder_params(tmp_path, str(archive)), tmp_path / "raw")
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    ok = manifest[manifest["status"] == "ok"]
    assert sorted(ok["path"]) == ["alice/a1.jpg", "alice/a2.jpg", "bob/b1.jpg"]
    assert ok["source"].iloc[0] == f"{archive}#photos/alice/a1.jpg"
    unsafe = manifest[manifest["status"] == "unsafe_member"]
    assert len(unsafe) == 7 and (unsafe["path"] == "").all()
    assert not list(tmp_path.glob("cache/.download.*"))  # work dir cleaned up


def test_folder_source_from_a_zip_url(server, tmp_path: Path) -> None:
    server.routes["/photos.zip"] = send(hostile_zip(tmp_path / "h.zip").read_bytes(),
                                        ctype="application/zip")
    url = server.url("/photos.zip")
    out = download(folder_params(tmp_path, url), tmp_path / "raw")
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert sorted(manifest[manifest["status"] == "ok"]["source"]) == [
        f"{url}#alice/a1.jpg", f"{url}#bob/b1.jpg"]
    assert (manifest["status"] == "unsafe_member").sum() == 4
    with pytest.raises(StageError, match="missing.zip: download failed: http_error HTTP 404"):
        download(folder_params(tmp_path, server.url("/missing.zip")), tmp_path / "raw2")
