"""`starrec cast` on a synthetic video of real LFW photos (helpers.clips: 7 shots with pans,
zooms and cuts; two enrolled stars, two strangers, each in two shots, one shot with two
faces), through the real YuNet detector, SFace embedder and the enrolled gallery's open-set
rule: one track per face per shot, tracks named right, strangers grouped across shots, cast
times as long as the shots; bad and face-less videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from helpers.clips import (
    CAST_SHOTS,
    FPS,
    SIZE,
    STAR_A,
    STAR_B,
    Shot,
    named_right,
    strangers_named,
    write_clip,
)
from helpers.params import section
from helpers.paths import PARAMS
from typer.testing import CliRunner

from starrec.artifacts import GALLERY_JSON, MODEL
from starrec.cli import app
from starrec.enroll.enroll import enroll
from starrec.predict.classifier import UNKNOWN
from starrec.serve.load import load_predictor
from starrec.video.cast import CAST_COLUMNS, cast_table
from starrec.video.identity import NamedTrack
from starrec.video.run import CAST_CSV, TIMELINE_PNG, TRACKS_CSV, VideoError, cast_video

PREDICT = section("predict")
VIDEO = section("video")
STARS = {STAR_A, STAR_B}


@pytest.fixture(scope="module")
def gallery(sface_model: Path, tmp_path_factory: pytest.TempPathFactory,
            shared_datasets: Path) -> Path:
    """gallery.json beside a copy of the session's SFace head: the two stars enrolled from
    photos 0-4 (the clip shows photos 10-13)."""
    model = Path(shutil.copytree(sface_model.parent, tmp_path_factory.mktemp("cast") / "m"))
    for star in sorted(STARS):
        enroll(star, sorted((shared_datasets / "lfw-subset" / star).glob("*.jpg"))[:5],
               model / MODEL, section("enroll").unknown_accept, PREDICT.max_image_pixels,
               PREDICT.batch_size)
    return model / GALLERY_JSON


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path
         ) -> tuple[Path, list[Shot]]:
    path = tmp_path_factory.mktemp("clip") / "cast.mp4"
    return path, write_clip(path, shared_datasets / "lfw-subset", CAST_SHOTS)


@pytest.fixture(scope="module")
def tracks(gallery: Path, clip: tuple[Path, list[Shot]]) -> list[NamedTrack]:
    predictor = load_predictor(str(gallery), PREDICT.top_k, PREDICT.batch_size)
    cast = cast_video(predictor, clip[0], VIDEO)
    assert cast.cuts == [s.start for s in clip[1][1:]]  # every cut found, nothing else
    return cast.tracks


def test_one_track_per_face_per_shot_named_right(tracks, clip) -> None:
    """Measured: 8 tracks for 8 faces, 8/8 named right, both strangers one cast member each."""
    shots = clip[1]
    assert abs(len(tracks) - sum(len(s.people) for s in shots)) <= 0.1 * len(tracks)
    strangers = strangers_named(tracks, shots, STARS)
    assert len(set(strangers.values())) == len(strangers) == 2
    assert all(name.startswith(f"{UNKNOWN}-") for name in strangers.values())
    assert named_right(tracks, shots, STARS) / len(tracks) >= 0.98, \
        [(t.label, t.start) for t in tracks]


def test_cast_times_match_the_shots(tracks, clip) -> None:
    """Each cast member's first/last appearance and time on screen are the shots' (within
    two frames): detection runs on every shot's first frame, the flow carries the face to
    its last."""
    shots = clip[1]
    cast = cast_table(tracks, FPS).set_index("star")
    names = {t.label for t in tracks}
    for person in {p for s in shots for p in s.people}:
        mine = [s for s in shots if person in s.people]
        label = person if person in STARS else strangers_named(tracks, shots, STARS)[person]
        assert label in names
        row = cast.loc[label]
        tol = 2 / FPS
        assert row["first_seen_s"] == pytest.approx(mine[0].start / FPS, abs=tol)
        assert row["last_seen_s"] == pytest.approx(mine[-1].stop / FPS, abs=tol)
        assert row["seconds_on_screen"] == pytest.approx(
            sum(s.frames for s in mine) / FPS, abs=tol * len(mine))
        assert len(row["tracks"].split()) == len(mine)


def faceless_clip(path: Path, frames: int = 30) -> Path:
    """A video of a moving grey gradient: frames, no face."""
    w, h = SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    ramp = np.tile(np.linspace(40, 220, w, dtype=np.uint8), (h, 1))
    for i in range(frames):
        writer.write(cv2.merge([np.roll(ramp, 4 * i, axis=1)] * 3))
    writer.release()
    return path


def test_cli_writes_cast_and_reports_bad_videos(gallery, clip, tmp_path) -> None:
    """Good videos get cast.csv, tracks.csv and timeline.png; a face-less one an empty cast
    with its header; a missing, a non-video and a truncated file one line each and no
    folder. Only bad videos: exit 1, nothing written."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notes.mp4").write_text("not a video")
    good_avi = faceless_clip(bad / "full.avi", 60)
    data = good_avi.read_bytes()
    (bad / "cut.avi").write_bytes(data[: len(data) // 2])
    empty = faceless_clip(tmp_path / "empty.avi")
    out = tmp_path / "out"
    bad_files = [bad / "missing.mp4", bad / "notes.mp4", bad / "cut.avi"]
    wide = {"COLUMNS": "500"}  # rich wraps log lines at the terminal's width
    res = CliRunner().invoke(app, ["cast", str(clip[0]), str(empty), *map(str, bad_files),
                                   "--model", str(gallery), "--out", str(out),
                                   "--params", str(PARAMS)], env=wide)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["cast", "empty"]
    for name in ("cast", "empty"):
        assert sorted(p.name for p in (out / name).iterdir()) == sorted(
            [CAST_CSV, TRACKS_CSV, TIMELINE_PNG])
        assert cv2.imread(str(out / name / TIMELINE_PNG)) is not None
    cast = pd.read_csv(out / "cast" / CAST_CSV)
    assert list(cast.columns) == CAST_COLUMNS and len(cast) == 4
    assert set(cast["star"]) >= STARS
    tracks = pd.read_csv(out / "cast" / TRACKS_CSV)
    assert {"track", "frames", "label", "score"} <= set(tracks.columns) and len(tracks) == 8
    assert (out / "empty" / CAST_CSV).read_text().strip() == ",".join(CAST_COLUMNS)
    errors = {f.name: [ln for ln in res.output.splitlines() if str(f) in ln] for f in bad_files}
    assert all(len(lines) == 1 for lines in errors.values()), res.output
    for name, reason in (("missing.mp4", "no such file"), ("notes.mp4", "cannot open"),
                         ("cut.avi", "truncated or damaged: read 30 of 60 frames")):
        assert reason in errors[name][0]

    none = CliRunner().invoke(app, ["cast", *map(str, bad_files), "--model", str(gallery),
                                    "--out", str(tmp_path / "none"), "--params", str(PARAMS)],
                                env=wide)
    assert none.exit_code == 1 and not (tmp_path / "none").exists()


def test_unreadable_video_is_one_error(gallery, tmp_path) -> None:
    predictor = load_predictor(str(gallery), PREDICT.top_k, PREDICT.batch_size)
    (tmp_path / "x.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError, match=rf"^{tmp_path / 'x.mp4'}: cannot open as a video"):
        cast_video(predictor, tmp_path / "x.mp4", VIDEO)


def test_cnn_model_without_embeddings_still_tracks(model_dir, known_splits,
                                                   unknown_faces_arrays, shared_datasets,
                                                   tmp_path) -> None:
    """A CNN on Haar crops (no embedder): crop pixels link the faces; one track per shot,
    each named a class of the model or unknown-k."""
    from helpers.clips import ShotSpec
    from helpers.models import PEOPLE, calibrated_copy

    model = calibrated_copy(model_dir, known_splits["val"], unknown_faces_arrays[::2],
                            tmp_path / "m")
    predictor = load_predictor(str(model / MODEL), PREDICT.top_k, PREDICT.batch_size)
    specs = [ShotSpec((PEOPLE[1],), (60,), "pan", 30), ShotSpec((PEOPLE[2],), (60,), "zoom", 30)]
    shots = write_clip(tmp_path / "cnn.mp4", shared_datasets / "lfw-subset", specs)
    cast = cast_video(predictor, tmp_path / "cnn.mp4", VIDEO)
    assert [(t.start, t.end) for t in cast.tracks] == [(s.start, s.stop - 1) for s in shots]
    assert all(t.label in PEOPLE or t.label.startswith(f"{UNKNOWN}-") for t in cast.tracks)


def test_a_face_coming_and_going_within_a_shot(gallery, shared_datasets, tmp_path) -> None:
    """A stranger walks in 12 frames into a star's shot and out 26 frames later: their track
    starts at the next detection and ends at the last one that found them (within
    `detect_every` frames of the truth, the miss budget spent); the star's track holds."""
    from helpers.clips import ShotSpec

    spec = ShotSpec((STAR_A, "Naomi_Watts"), (13, 0), "pan", 60, ((0, 60), (12, 38)))
    shot, = write_clip(tmp_path / "in_out.mp4", shared_datasets / "lfw-subset", [spec])
    predictor = load_predictor(str(gallery), PREDICT.top_k, PREDICT.batch_size)
    star, stranger = cast_video(predictor, tmp_path / "in_out.mp4", VIDEO).tracks
    assert (star.label, star.start, star.end) == (STAR_A, 0, 59)
    (first, stop) = shot.visible[1]
    assert stranger.label.startswith(f"{UNKNOWN}-")
    assert first <= stranger.start < first + VIDEO.detect_every
    assert stop - 1 - VIDEO.detect_every < stranger.end <= stop - 1


def test_scan_indexes_a_video_as_one_face_per_track(gallery, clip, tracks, tmp_path) -> None:
    """`starrec scan` of the clip: one face row per track, at its best face's frame, named
    as the cast names it (strangers `unknown` in the library, to be clustered); a re-scan
    reads nothing; a damaged video is an error row, not a crash."""
    from starrec.library.index import Index
    from starrec.library.recognizer import recognizer_of
    from starrec.library.scan import scan

    lib = section("library")
    params = lib.model_copy(update={"out": tmp_path / "out",
                                    "ann": lib.ann.model_copy(update={"dir": tmp_path / "a"})})
    rec = recognizer_of(load_predictor(str(gallery), PREDICT.top_k, PREDICT.batch_size),
                        str(gallery))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip[0].read_bytes()[:5000])
    index = Index(tmp_path / "index.sqlite")
    first = scan([clip[0], broken], rec, index, params, PREDICT.max_image_pixels,
                 progress=False, video=VIDEO)
    assert (first.files, first.videos, first.indexed, len(first.errors)) == (2, 2, 1, 1)
    assert str(broken) in first.errors[0]
    table = index.face_table()
    assert len(table) == first.faces == len(tracks)
    by_start = sorted(tracks, key=lambda t: t.best.frame)
    stars = [t.label for t in by_start if t.label in STARS]
    assert sorted(r["model_label"] for r in table.rows if r["model_label"] in STARS) == \
        sorted(stars)
    assert sum(r["model_label"] == UNKNOWN for r in table.rows) == len(tracks) - len(stars)
    assert {r["path"] for r in table.rows} == {str(clip[0])}
    assert np.allclose(np.linalg.norm(table.embeddings, axis=1), 1.0, atol=1e-4)
    again = scan([clip[0]], rec, index, params, PREDICT.max_image_pixels, progress=False,
                 video=VIDEO)
    assert (again.skipped, again.indexed) == (1, 0) and len(index.face_table()) == len(tracks)
