"""Hostile .tar.gz / .zip data sets (download.folder.path): each unsafe member is refused
with a warning naming it and a manifest row, nothing lands outside, good photos come through."""

from __future__ import annotations

import io
import logging
import stat
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from helpers.faults import Case, case, cases
from helpers.http_routes import jpeg
from helpers.stages import download, download_params

from starrec.config import DownloadParams
from starrec.errors import StageError

GOOD = {"ds/alice/a1.jpg": jpeg(1), "ds/alice/a2.jpg": jpeg(2), "ds/bob/b1.jpg": jpeg(3)}
ESCAPE = "starrec-fault-escape.jpg"
LIMITS = {"max_files": 50, "max_total_bytes": 3_000_000, "max_member_bytes": 1_000_000}


def params(tmp: Path, archive: Path, **limits: int) -> DownloadParams:
    return download_params(source="folder", folder={"path": str(archive)},
                           cache_dir=str(tmp / "cache"), min_images_per_class=0,
                           archive={**LIMITS, **limits})


def tar_member(tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE,
               data: bytes = b"", link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    tar.addfile(info, io.BytesIO(data) if data else None)


TAR = {  # member -> (how it is added, reason pattern, case)
    f"../{ESCAPE}": (dict(data=jpeg(4)), "path traversal (..)",
                     Case("download", "tar-slip member `../x.jpg`", "refused: path traversal (..)")),
    f"/tmp/{ESCAPE}": (dict(data=jpeg(5)), "absolute path",
                       Case("download", "tar member with an absolute path", "refused: absolute path")),
    "ds/alice/link.jpg": (dict(kind=tarfile.SYMTYPE, link="/etc/passwd"), "symlink to /etc/passwd",
                          Case("download", "tar symlink to /etc/passwd", "refused: symlink")),
    "ds/alice/hard.jpg": (dict(kind=tarfile.LNKTYPE, link="ds/alice/a1.jpg"),
                          "hard link to ds/alice/a1.jpg",
                          Case("download", "tar hard link", "refused: hard link")),
    "ds/bob/dev.jpg": (dict(kind=tarfile.CHRTYPE), "device or fifo",
                       Case("download", "tar character-device member", "refused: device or fifo")),
    "ds/bob/fifo.jpg": (dict(kind=tarfile.FIFOTYPE), "device or fifo",
                        Case("download", "tar fifo member", "refused: device or fifo")),
}


@pytest.fixture(scope="module")
def tar_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, str]:
    tmp = tmp_path_factory.mktemp("tar")
    archive = tmp / "photos.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in GOOD.items():
            tar_member(tar, name, data=data)
        for name, (how, _, _) in TAR.items():
            tar_member(tar, name, **how)
    logger = logging.getLogger("starrec")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        out = download(params(tmp, archive), tmp / "x" / "raw")
    finally:
        logger.removeHandler(handler)
    rows = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    return rows, tmp, "\n".join(r.getMessage() for r in records if r.levelno == logging.WARNING)


TAR_IDS = dict(zip(["tar-slip", "tar-absolute", "tar-symlink", "tar-hardlink", "tar-device",
                    "tar-fifo"], TAR, strict=True))


@cases("member", {k: (name, TAR[name][2]) for k, name in TAR_IDS.items()})
def test_unsafe_tar_member_is_refused_and_said(tar_run, member: str) -> None:
    rows, tmp, warnings = tar_run
    reason = TAR[member][1]
    r = rows[rows["source"].str.endswith(f"#{member}")].iloc[0]
    assert (r["status"], r["reason"], r["path"]) == ("unsafe_member", reason, "")
    assert f"archive member {member!r} refused: {reason}" in warnings
    assert sorted(rows.loc[rows["status"] == "ok", "path"]) == [
        "alice/a1.jpg", "alice/a2.jpg", "bob/b1.jpg"]
    assert not (tmp / ESCAPE).exists() and not Path(f"/tmp/{ESCAPE}").exists()
    assert all(p.is_file() and not p.is_symlink() for p in (tmp / "x" / "raw").rglob("*.jpg"))


def zip_with(path: Path, extra: dict[str, bytes | zipfile.ZipInfo]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in GOOD.items():
            zf.writestr(name, data)
        for name, data in extra.items():
            if isinstance(data, zipfile.ZipInfo):
                zf.writestr(data, "/etc/passwd")
            else:
                zf.writestr(name, data)
    return path


def zip_link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


ZIP = {  # id -> (members, refused member, reason, case)
    "zip-slip": ({f"ds/../../{ESCAPE}": jpeg(6)}, f"ds/../../{ESCAPE}", "path traversal (..)",
                 Case("download", "zip-slip member `ds/../../x.jpg`", "refused: path traversal (..)")),
    "zip-backslash": ({f"ds\\..\\..\\{ESCAPE}": jpeg(7)}, f"ds\\..\\..\\{ESCAPE}",
                      "backslash in path", Case("download", "zip member with Windows `..\\` path",
                                                "refused: backslash in path")),
    "zip-symlink": ({"ds/alice/link.jpg": zip_link("ds/alice/link.jpg")}, "ds/alice/link.jpg",
                    "symlink", Case("download", "zip symlink member", "refused: symlink")),
    "zip-bomb-member": ({"ds/alice/bomb.jpg": b"\0" * 2_000_000}, "ds/alice/bomb.jpg",
                        "member size 2000000 > max_member_bytes 1000000",
                        Case("download", "zip bomb: a 2 MB member compressed to 2 KB",
                             "refused from its declared size (download.archive.max_member_bytes)")),
}


@cases("kind", {k: (k, v[3]) for k, v in ZIP.items()})
def test_unsafe_zip_member_is_refused(tmp_path: Path, kind: str) -> None:
    members, member, reason, _ = ZIP[kind]
    archive = zip_with(tmp_path / "photos.zip", members)
    rows = pd.read_csv(download(params(tmp_path, archive), tmp_path / "x" / "raw") / "manifest.csv",
                       keep_default_na=False)
    refused = rows[rows["status"] == "unsafe_member"]
    assert refused[["source", "reason"]].values.tolist() == [[f"{archive}#{member}", reason]]
    assert sorted(rows.loc[rows["status"] == "ok", "path"]) == [
        "alice/a1.jpg", "alice/a2.jpg", "bob/b1.jpg"]
    assert not (tmp_path / ESCAPE).exists() and not (tmp_path / "x" / ESCAPE).exists()


@case("download", "zip bomb: members adding up past download.archive.max_total_bytes",
      "StageError before anything is extracted; the previous raw dir kept")
def test_archive_over_its_total_cap_stops_the_stage(tmp_path: Path) -> None:
    members = {f"ds/alice/z{i}.jpg": b"\0" * 900_000 for i in range(4)}
    archive = zip_with(tmp_path / "photos.zip", members)
    assert archive.stat().st_size < 50_000
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "keep.txt").write_text("previous")
    with pytest.raises(StageError, match=rf"^{archive}: \d+ bytes uncompressed > max_total_bytes "
                                         r"3000000$"):
        download(params(tmp_path, archive), tmp_path / "raw")
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["keep.txt"]
    assert not list((tmp_path / "cache").glob(".download*"))
