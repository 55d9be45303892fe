"""The `urls` source against a real local HTTP server that misbehaves in every way we handle."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from helpers.http_routes import chunked, fail_then, jpeg, reset, send, stall
from helpers.stages import download, download_params

from starrec.config import DownloadParams
from starrec.download.raw_manifest import COLUMNS
from starrec.errors import StageError

HTML = b"<!DOCTYPE html><html><body>Sorry, this photo was removed</body></html>"
MAX_BYTES = 20_000


def params(tmp: Path, stars: list[str], **over: object) -> DownloadParams:
    return download_params(**{
        "source": "urls", "cache_dir": str(tmp / "cache"),
        "urls": {"dir": str(tmp / "urls"), "stars": stars},
        "http": {"workers": 4, "timeout_s": 0.3, "retries": 2, "backoff_factor": 0.0,
                 "max_bytes": MAX_BYTES},
        "min_images_per_class": 0, **over,
    })


def write_urls(tmp: Path, star: str, lines: list[str]) -> None:
    (tmp / "urls").mkdir(exist_ok=True)
    (tmp / "urls" / f"{star}_urls.txt").write_text("\n".join(lines) + "\n")


CASES = {  # path -> (route, expected status)
    "/ok.jpg": (send(jpeg(1)), "ok"),
    "/missing.jpg": (None, "http_error"),  # the server's default 404
    "/flaky.jpg": (fail_then(1, send(jpeg(2))), "ok"),
    "/down.jpg": (fail_then(99, send(jpeg(3))), "http_error"),
    "/slow.jpg": (stall(2.0), "timeout"),
    "/reset.jpg": (reset, "connection_error"),
    "/truncated.jpg": (send(jpeg(4)[:200], length=len(jpeg(4))), "truncated"),
    "/page.jpg": (send(HTML, ctype="image/jpeg"), "not_image"),
    "/huge.jpg": (send(b"\xff" * (MAX_BYTES + 1)), "too_large"),
    "/huge-chunked.jpg": (chunked(jpeg(5, size=64) + b"\0" * MAX_BYTES), "too_large"),
    "/copy.jpg": (send(jpeg(1)), "duplicate"),
}


@pytest.fixture(scope="module")
def run(module_server, tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    tmp = tmp_path_factory.mktemp("urls")
    for path, (route, _) in CASES.items():
        if route is not None:
            module_server.routes[path] = route
    write_urls(tmp, "brad_pitt", ["# comment", ""] + [module_server.url(p) for p in CASES]
               + ["ftp://example.com/x.jpg"])
    out = download(params(tmp, ["brad_pitt"]), tmp / "raw")
    return pd.read_csv(out / "manifest.csv", keep_default_na=False), out


def test_manifest_has_contract_columns_and_one_row_per_url(run) -> None:
    manifest, _ = run
    assert list(manifest.columns) == COLUMNS
    assert len(manifest) == len(CASES) + 1


@pytest.mark.parametrize("path", list(CASES))
def test_each_url_gets_its_status(run, module_server, path: str) -> None:
    manifest, _ = run
    row = manifest[manifest["source"] == module_server.url(path)].iloc[0]
    assert row["status"] == CASES[path][1], row["reason"]
    assert row["class"] == "brad_pitt"
    assert (row["path"] != "") == (row["status"] == "ok")
    if row["status"] != "ok":
        assert row["reason"]


def test_retries_only_where_they_can_help(run, module_server) -> None:
    hits = module_server.hits
    assert hits["/ok.jpg"] == 1
    assert hits["/missing.jpg"] == 1  # 4xx: never retried
    assert hits["/flaky.jpg"] == 2  # 500 then 200
    assert hits["/down.jpg"] == 3  # 1 + 2 retries, then given up
    assert hits["/reset.jpg"] == 3
    assert hits["/slow.jpg"] == 3


def test_reasons_say_what_went_wrong(run, module_server) -> None:
    manifest, _ = run
    reason = dict(zip(manifest["source"], manifest["reason"]))
    assert "HTTP 404" in reason[module_server.url("/missing.jpg")]
    assert "HTTP 500" in reason[module_server.url("/down.jpg")]
    assert "HTML" in reason[module_server.url("/page.jpg")]
    assert module_server.url("/ok.jpg") in reason[module_server.url("/copy.jpg")]
    assert "http(s)" in reason["ftp://example.com/x.jpg"]


def test_ok_files_are_named_by_star_and_line_and_match_their_hash(run) -> None:
    manifest, out = run
    ok = manifest[manifest["status"] == "ok"]
    assert sorted(ok["path"]) == ["brad_pitt/brad_pitt.0000.jpg", "brad_pitt/brad_pitt.0002.jpg"]
    for _, row in ok.iterrows():
        data = (out / row["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"] and len(data) == int(row["bytes"])
    assert sorted(p.name for p in (out / "brad_pitt").iterdir()) == [
        "brad_pitt.0000.jpg", "brad_pitt.0002.jpg"]


def test_second_run_fetches_only_what_was_not_verified(server, tmp_path: Path) -> None:
    server.routes.update({"/a.jpg": send(jpeg(10)), "/b.png": send(jpeg(11)),
                          "/a-again.jpg": send(jpeg(10))})
    urls = [server.url(p) for p in ("/a.jpg", "/b.png", "/a-again.jpg", "/gone.jpg")]
    write_urls(tmp_path, "nicolas_cage", urls)
    cfg = params(tmp_path, ["nicolas_cage"])
    first = pd.read_csv(download(cfg, tmp_path / "raw") / "manifest.csv", keep_default_na=False)
    assert dict(server.hits) == {"/a.jpg": 1, "/b.png": 1, "/a-again.jpg": 1, "/gone.jpg": 1}

    second = pd.read_csv(download(cfg, tmp_path / "raw") / "manifest.csv", keep_default_na=False)
    assert dict(server.hits) == {"/a.jpg": 1, "/b.png": 1, "/a-again.jpg": 1, "/gone.jpg": 2}
    pd.testing.assert_frame_equal(first, second)
    assert list(second["status"]) == ["ok", "ok", "duplicate", "http_error"]

    # a cached file that no longer matches its hash is fetched again, not trusted
    blob = cfg.cache_dir / "urls" / "blobs" / second["sha256"][1]
    blob.write_bytes(b"corrupted")
    third = pd.read_csv(download(cfg, tmp_path / "raw") / "manifest.csv", keep_default_na=False)
    assert server.hits["/b.png"] == 2 and server.hits["/a.jpg"] == 1
    pd.testing.assert_frame_equal(first, third)


def test_star_with_no_ok_image_is_an_error_and_keeps_old_output(server, tmp_path: Path) -> None:
    server.routes["/a.jpg"] = send(jpeg(20))
    write_urls(tmp_path, "brad_pitt", [server.url("/a.jpg")])
    write_urls(tmp_path, "angelina_jolie", [server.url("/nope.jpg")])
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "old.txt").write_text("previous output")
    with pytest.raises(StageError, match=r"class angelina_jolie: zero ok images \(1 http_error; "
                       r"first: http://127.0.0.1:\d+/nope.jpg: HTTP 404 Not Found\)") as err:
        download(params(tmp_path, ["brad_pitt", "angelina_jolie"]), tmp_path / "raw")
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["old.txt"]
    failed = pd.read_csv(str(err.value).rsplit("every item's status: ", 1)[1].rstrip(")"))
    assert list(failed["status"]) == ["ok", "http_error"]  # this run's rows, kept for a look


def test_class_selection(server, tmp_path: Path) -> None:
    server.routes.update({f"/{i}.jpg": send(jpeg(30 + i)) for i in range(4)})
    write_urls(tmp_path, "brad_pitt", [server.url(f"/{i}.jpg") for i in range(3)])
    write_urls(tmp_path, "angelina_jolie", [server.url("/3.jpg")])
    stars = ["brad_pitt", "angelina_jolie"]
    only = pd.read_csv(download(params(tmp_path, stars, classes=["angelina_jolie"]),
                                tmp_path / "one") / "manifest.csv")
    assert set(only.loc[only["status"] == "ok", "class"]) == {"angelina_jolie"}
    assert set(only.loc[only["class"] == "brad_pitt", "status"]) == {"class_dropped"}
    many = download(params(tmp_path, stars, min_images_per_class=2), tmp_path / "many")
    rows = pd.read_csv(many / "manifest.csv")
    assert set(rows.loc[rows["status"] == "ok", "class"]) == {"brad_pitt"}
    assert rows.loc[rows["class"] == "angelina_jolie", "status"].tolist() == ["class_dropped"]
    assert not (many / "angelina_jolie").exists()
    with pytest.raises(StageError, match="class tom_hanks is not in download.urls.stars"):
        download(params(tmp_path, stars, classes=["tom_hanks"]), tmp_path / "x")
    with pytest.raises(StageError, match="leo_urls.txt: cannot read URL list"):
        download(params(tmp_path, ["leo"]), tmp_path / "x")
