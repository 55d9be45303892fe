"""Safe extraction of untrusted .tar(.gz) / .zip archives.

Every member is checked before anything is written: no absolute paths, no `..`, no links,
no device or other special files, per-member / total size and member-count caps. Refused
members come back as manifest rows; tar extraction also runs through tarfile's "data" filter.
"""

from __future__ import annotations

import logging
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from starrec.config import ArchiveLimits
from starrec.download.raw_manifest import Row, Status
from starrec.errors import StageError

log = logging.getLogger(__name__)

IGNORED_PREFIXES = ("__MACOSX/",)


def safe_extract(archive: Path, dest: Path, limits: ArchiveLimits, source: str) -> list[Row]:
    """Extract the safe members of `archive` into `dest`; return rows for the refused ones.

    `source` (the URL or path the archive came from) prefixes each row's source.
    Raises StageError when the archive is unreadable, over its caps, or has no safe member.
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            refused, extracted = _extract_zip(archive, dest, limits, source)
        elif tarfile.is_tarfile(archive):
            refused, extracted = _extract_tar(archive, dest, limits, source)
        else:
            raise StageError(f"{source}: not a zip or tar archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise StageError(f"{source}: cannot read archive ({exc})") from exc
    if not extracted:
        raise StageError(f"{source}: no safe file in the archive ({len(refused)} refused)")
    return refused


def member_problem(name: str) -> str:
    """Why a member name is unsafe ('' if it is fine)."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if "\\" in name:
        return "backslash in path"
    if ".." in PurePosixPath(name).parts:
        return "path traversal (..)"
    return ""


def _check_caps(count: int, total: int, limits: ArchiveLimits, source: str) -> None:
    if count > limits.max_files:
        raise StageError(f"{source}: {count} members > max_files {limits.max_files}")
    if total > limits.max_total_bytes:
        raise StageError(f"{source}: {total} bytes uncompressed > max_total_bytes "
                         f"{limits.max_total_bytes}")


def _refuse(source: str, name: str, reason: str, size: int | None) -> Row:
    log.warning("%s: archive member %r refused: %s", source, name, reason)
    parts = PurePosixPath(name).parts
    cls = parts[-2] if len(parts) >= 2 and member_problem(name) == "" else ""
    return Row(cls, f"{source}#{name}", Status.UNSAFE_MEMBER, reason, size)


def _extract_tar(archive: Path, dest: Path, limits: ArchiveLimits,
                 source: str) -> tuple[list[Row], int]:
    refused: list[Row] = []
    extracted = 0
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        _check_caps(len(members), sum(m.size for m in members if m.isreg()), limits, source)
        for m in members:
            if m.isdir() or m.name.startswith(IGNORED_PREFIXES):
                continue
            reason = member_problem(m.name) or _tar_type_problem(m)
            if not reason and m.size > limits.max_member_bytes:
                reason = f"member size {m.size} > max_member_bytes {limits.max_member_bytes}"
            if not reason:
                try:
                    tar.extract(m, dest, filter="data")
                    extracted += 1
                    continue
                except tarfile.FilterError as exc:
                    reason = f"refused by tarfile data filter: {exc}"
            refused.append(_refuse(source, m.name, reason, m.size))
    return refused, extracted


def _tar_type_problem(m: tarfile.TarInfo) -> str:
    if m.issym():
        return f"symlink to {m.linkname}"
    if m.islnk():
        return f"hard link to {m.linkname}"
    if m.isdev():
        return "device or fifo"
    if not m.isreg():
        return "not a regular file"
    return ""


def _extract_zip(archive: Path, dest: Path, limits: ArchiveLimits,
                 source: str) -> tuple[list[Row], int]:
    refused: list[Row] = []
    extracted = 0
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        _check_caps(len(infos), sum(i.file_size for i in infos), limits, source)
        for info in infos:
            if info.is_dir() or info.filename.startswith(IGNORED_PREFIXES):
                continue
            reason = member_problem(info.filename) or _zip_type_problem(info)
            if not reason and info.file_size > limits.max_member_bytes:
                reason = (f"member size {info.file_size} > max_member_bytes "
                          f"{limits.max_member_bytes}")
            if not reason:
                target = dest / info.filename
                if not target.resolve().is_relative_to(dest.resolve()):
                    reason = "resolves outside the extraction dir"
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)  # zipfile stops at file_size, checks CRC
                    extracted += 1
                    continue
            refused.append(_refuse(source, info.filename, reason, info.file_size))
    return refused, extracted


def _zip_type_problem(info: zipfile.ZipInfo) -> str:
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip did not record a type
    if kind == stat.S_IFLNK:
        return "symlink"
    if kind and kind != stat.S_IFREG:
        return "device or other special file"
    if info.flag_bits & 0x1:
        return "encrypted member"
    return ""
