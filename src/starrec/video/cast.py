"""Named tracks → the tables `starrec cast` writes: tracks.csv and cast.csv."""

from __future__ import annotations

import pandas as pd

from starrec.video.identity import NamedTrack

TRACK_COLUMNS = ["track", "label", "score", "first_frame", "last_frame", "frames",
                 "detections", "first_s", "last_s"]
CAST_COLUMNS = ["star", "first_seen_s", "last_seen_s", "seconds_on_screen", "tracks"]


def tracks_table(tracks: list[NamedTrack], fps: float) -> pd.DataFrame:
    """One row per track; times are the start of its first and the end of its last frame."""
    return pd.DataFrame([{
        "track": t.id, "label": t.label, "score": round(t.score, 4), "first_frame": t.start,
        "last_frame": t.end, "frames": t.end - t.start + 1, "detections": t.detections,
        "first_s": round(t.start / fps, 3), "last_s": round((t.end + 1) / fps, 3),
    } for t in tracks], columns=TRACK_COLUMNS)


def intervals(tracks: list[NamedTrack]) -> list[tuple[int, int]]:
    """The frame ranges [first, last] the tracks cover, overlaps merged."""
    out: list[tuple[int, int]] = []
    for s, e in sorted((t.start, t.end) for t in tracks):
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def cast_table(tracks: list[NamedTrack], fps: float) -> pd.DataFrame:
    """One row per cast member (a star or unknown-k), by first appearance: when first and
    last on screen, seconds on screen (two faces of one person at once count once) and the
    ids of their tracks."""
    rows = []
    for label in dict.fromkeys(t.label for t in sorted(tracks, key=lambda t: (t.start, t.id))):
        mine = [t for t in tracks if t.label == label]
        spans = intervals(mine)
        rows.append({"star": label, "first_seen_s": round(spans[0][0] / fps, 3),
                     "last_seen_s": round((spans[-1][1] + 1) / fps, 3),
                     "seconds_on_screen": round(sum(e - s + 1 for s, e in spans) / fps, 3),
                     "tracks": " ".join(str(t.id) for t in mine)})
    return pd.DataFrame(rows, columns=CAST_COLUMNS)
