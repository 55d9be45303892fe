"""`starrec report-library`: one static HTML page of the library that opens offline (no
script, no CDN; thumbnails inlined as data URIs): the people with their face counts and best
faces, the clusters of unknown faces, the named faces whose score barely passed, and the
photos that could not be read."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from pathlib import Path

from PIL import Image

from starrec.config import LibraryParams
from starrec.io import write_text_atomic
from starrec.library.cluster import quality
from starrec.library.index import Index, photos
from starrec.library.sheets import thumbnails
from starrec.predict.classifier import UNKNOWN

REPORT = "report.html"
PER_PERSON, PER_CLUSTER, REVIEW = 6, 8, 48  # thumbnails shown
STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}h2{border-bottom:1px solid #ccc}
.card{display:inline-block;vertical-align:top;margin:.4em;padding:.4em;border:1px solid #ddd;
border-radius:6px}.card h3{margin:.1em 0 .3em;font-size:1em}figure{display:inline-block;
margin:2px;text-align:center;font-size:11px}img{width:96px;height:96px;display:block}
.merge{color:#a60}td,th{padding:2px 8px;text-align:left}"""


def data_uri(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def write_report(index: Index, params: LibraryParams, max_pixels: int) -> Path:
    """Render the library's report into `params.out`/report.html; returns its path."""
    table = index.face_table()
    rows = sorted(table.rows, key=lambda r: -quality(r["face_size"], r["blur"], r["det_score"]))
    people: dict[str, list[dict]] = {}
    clusters: dict[int, list[dict]] = {}
    for r in rows:
        if r["label"] != UNKNOWN:
            people.setdefault(r["label"], []).append(r)
        elif r["cluster"] is not None:
            clusters.setdefault(r["cluster"], []).append(r)
    review = sorted((r for r in rows if r["label"] != UNKNOWN and r["label_source"] != "named"
                     and r["score"] - r["threshold"] < params.review_margin),
                    key=lambda r: r["score"] - r["threshold"])[:REVIEW]
    shown = ([r for group in people.values() for r in group[:PER_PERSON]]
             + [r for group in clusters.values() for r in group[:PER_CLUSTER]] + review)
    thumbs = {i: data_uri(t) for i, t in thumbnails(shown, max_pixels).items()}
    with index.engine.connect() as conn:
        status = Counter(s for (s,) in conn.execute(photos.select().with_only_columns(
            photos.c.status)))
        errors = conn.execute(photos.select().with_only_columns(photos.c.path, photos.c.reason)
                              .where(photos.c.status == "error").order_by(photos.c.path)).all()
    counts = Counter(r["label"] for r in table.rows)
    body = [f"<h1>Photo library</h1><p>{sum(status.values())} photos ({status['ok']} with "
            f"faces, {status['no_face']} without, {status['duplicate']} duplicates, "
            f"{status['error']} unreadable), {len(table)} faces: {len(people)} people, "
            f"{counts[UNKNOWN]} unknown faces in {len(clusters)} clusters.</p>",
            "<h2 id='people'>People</h2>"]
    for person in sorted(people, key=lambda p: (-counts[p], p)):
        body.append(_card(f"{html.escape(person)} — {counts[person]} faces",
                          people[person][:PER_PERSON], thumbs, "person"))
    body.append("<h2 id='clusters'>Unknown clusters</h2>")
    for cid in sorted(clusters, key=lambda c: (-len(clusters[c]), c)):
        body.append(_card(f"c{cid} — {len(clusters[cid])} faces "
                          f"(<code>starrec name c{cid} NAME</code>)",
                          clusters[cid][:PER_CLUSTER], thumbs, "cluster"))
    body.append(f"<h2 id='review'>To review: named within {params.review_margin:g} of the "
                "threshold</h2>")
    body.append(_card(f"{len(review)} faces", review, thumbs, "review", scores=True)
                if review else "<p>none</p>")
    body.append("<h2 id='errors'>Unreadable photos</h2>")
    body.append("<table>" + "".join(f"<tr><td>{html.escape(p)}</td><td>{html.escape(r or '')}"
                                    "</td></tr>" for p, r in errors) + "</table>"
                if errors else "<p>none</p>")
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Photo library</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    out = Path(params.out) / REPORT
    write_text_atomic(out, page)
    return out


def _card(title: str, faces: list[dict], thumbs: dict[int, str], kind: str,
          scores: bool = False) -> str:
    figs = []
    for f in faces:
        caption = (f"#{f['id']} {html.escape(f['label'])} {f['score']:.2f}/{f['threshold']:.2f}"
                   if scores else f"#{f['id']}")
        img = (f"<img src='{thumbs[f['id']]}' alt='face {f['id']}'>" if f["id"] in thumbs
               else "<span>(photo gone)</span>")
        figs.append(f"<figure>{img}<figcaption>{caption}</figcaption></figure>")
    return f"<div class='card {kind}'><h3>{title}</h3>{''.join(figs)}</div>"
