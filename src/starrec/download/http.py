"""HTTP fetching with urllib3: retries with backoff on connection errors, timeouts and 5xx
(never on 4xx), a size cap while streaming, and truncated bodies detected."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import urllib3
from tqdm import tqdm
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    IncompleteRead,
    MaxRetryError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import Retry, Timeout

from starrec.config import HttpParams
from starrec.download.raw_manifest import Status

RETRY_STATUSES = (500, 502, 503, 504)
CHUNK = 1 << 16


@dataclass
class Fetched:
    """A finished request: `path` (a temp file the caller owns) is set only when status is ok."""

    status: Status
    reason: str = ""
    path: Path | None = None
    bytes: int | None = None
    sha256: str = ""


def make_pool(http: HttpParams) -> urllib3.PoolManager:
    retry = Retry(
        total=None, connect=http.retries, read=http.retries, status=http.retries,
        other=http.retries, redirect=5, backoff_factor=http.backoff_factor,
        status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    return urllib3.PoolManager(
        maxsize=max(1, http.workers), retries=retry,
        timeout=Timeout(connect=http.timeout_s, read=http.timeout_s),
        headers={"User-Agent": "starrec-download/0.1"},
    )


def fetch(pool: urllib3.PoolManager, url: str, dest_dir: Path, max_bytes: int,
          progress: bool = False) -> Fetched:
    """GET `url` into a new file in `dest_dir`; every failure becomes a status + reason."""
    try:
        resp = pool.request("GET", url, preload_content=False)
    except MaxRetryError as exc:
        return _failure(exc.reason, f"after retries: {exc.reason}")
    except HTTPError as exc:
        return _failure(exc, str(exc))
    got = Fetched(Status.HTTP_ERROR)
    try:
        if resp.status != 200:
            retried = " (after retries)" if resp.status in RETRY_STATUSES else ""
            got.reason = f"HTTP {resp.status} {resp.reason or ''}".strip() + retried
        elif (declared := resp.headers.get("Content-Length", "")).isdigit() and int(declared) > max_bytes:
            got = Fetched(Status.TOO_LARGE, f"Content-Length {declared} > max {max_bytes} bytes",
                          bytes=int(declared))
        else:
            got = _stream(resp, dest_dir, max_bytes, progress, url)
        return got
    finally:
        if got.status != Status.OK:
            resp.close()  # unread body: the connection cannot be reused
        resp.release_conn()


def _stream(resp: urllib3.BaseHTTPResponse, dest_dir: Path, max_bytes: int, progress: bool,
            url: str) -> Fetched:
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".fetch.", dir=dest_dir)
    path, digest, size = Path(name), hashlib.sha256(), 0
    total = int(resp.headers.get("Content-Length") or 0) or None
    try:
        with os.fdopen(fd, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=url,
                                             disable=not progress, leave=False) as bar:
            for chunk in resp.stream(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    path.unlink()
                    return Fetched(Status.TOO_LARGE, f"body exceeds max {max_bytes} bytes", bytes=size)
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
    except (HTTPError, OSError) as exc:
        path.unlink(missing_ok=True)
        return _failure(exc, str(exc), size)
    return Fetched(Status.OK, path=path, bytes=size, sha256=digest.hexdigest())


def _failure(exc: BaseException | None, reason: str, size: int | None = None) -> Fetched:
    """Map a urllib3 error to a manifest status."""
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError, TimeoutError)):
        status = Status.TIMEOUT
    elif _is_incomplete(exc):
        status = Status.TRUNCATED
        reason = f"body shorter than Content-Length ({reason})"
    else:
        status = Status.CONNECTION_ERROR
    return Fetched(status, reason, bytes=size)


def _is_incomplete(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, IncompleteRead) or (isinstance(exc, ProtocolError)
                                              and "IncompleteRead" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
