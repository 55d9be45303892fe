"""The photo library on LFW-62 (every photo of ../shared/datasets/lfw-subset): scan speed,
re-scan of the unchanged library, clustering of the unknown faces and naming.

    python benchmarks/library.py [--params params.yaml] [--names 5] [--out benchmarks/library.json]

The model is the tests' small one (tests/helpers/library.py): the SFace head with the 3
HEAD_PEOPLE enrolled as stars from 12 photos each, unknown threshold calibrated on the
impostor bank; the 59 other people are strangers to it. The even-numbered photos of every
person are scanned first (the library), clustered (agglomerative, `library.cluster`; HDBSCAN
on the same faces for comparison), and the `--names` largest clusters whose people are
strangers are named after the person most of their faces are. Then the odd-numbered photos
are scanned (new photos arriving) and a named person's new photos must come out under the
name. Truth: each photo's most central face is its folder's person; other faces are left
out of the scores (not of the clustering). Figures to stdout and `--out`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' model and LFW builders

from helpers.head import HEAD_PEOPLE  # noqa: E402
from helpers.library import centre_truth, gallery_model, link_photos  # noqa: E402

from starrec.config import load_config  # noqa: E402
from starrec.library.cluster import NOISE, bcubed, by_size, pairwise_precision  # noqa: E402
from starrec.library.index import Index  # noqa: E402
from starrec.library.people import find_clusters, name_target  # noqa: E402
from starrec.library.recognizer import recognizer_of  # noqa: E402
from starrec.library.scan import scan  # noqa: E402
from starrec.predict.classifier import UNKNOWN  # noqa: E402
from starrec.serve.load import load_predictor  # noqa: E402

log = logging.getLogger("library")


def clustering_scores(rows: list[dict], emb: np.ndarray, ids: np.ndarray) -> dict:
    """BCubed and pairwise precision of `ids` (agglomerative) and of HDBSCAN on the unknown
    faces whose person is known."""
    from sklearn.cluster import HDBSCAN

    truth = centre_truth(rows)
    known = np.array([t is not None for t in truth])
    out = {}
    start = time.perf_counter()
    raw = HDBSCAN(min_cluster_size=2, copy=True).fit_predict(emb)
    hdb_s = time.perf_counter() - start
    hdb = by_size(np.where(raw >= 0, raw, -2 - np.arange(len(raw))), 2)  # its noise: NOISE
    for name, pred in (("agglomerative", ids), ("hdbscan", hdb)):
        p, r, f = bcubed(truth[known].astype(str), pred[known])
        out[name] = {"bcubed_precision": p, "bcubed_recall": r, "bcubed_f": f,
                     "pairwise_precision": pairwise_precision(truth[known].astype(str),
                                                              pred[known]),
                     "clusters": int(len(set(pred[known]) - {NOISE})),
                     "unclustered": int((pred[known] == NOISE).sum())}
    out["hdbscan"]["seconds"] = hdb_s
    out["faces"], out["scored_faces"] = len(rows), int(known.sum())
    out["people"] = len(set(truth[known]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--names", type=int, default=5, help="clusters to name")
    parser.add_argument("--out", default=str(HERE / "library.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(args.params)
    lfw = (Path(args.params).resolve().parent / cfg.predict.unknown.path).resolve()
    people = sorted(d.name for d in lfw.iterdir() if d.is_dir())
    result: dict = {"load_avg_start": os.getloadavg()[0], "people": len(people)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = gallery_model(tmp / "m", lfw)
        params = cfg.library.model_copy(update={
            "impostors": model.with_name("impostors.npz"), "out": tmp / "out",
            "ann": cfg.library.ann.model_copy(update={"dir": tmp / "ann"})})
        rec = recognizer_of(load_predictor(str(model), cfg.predict.top_k,
                                           cfg.predict.batch_size), str(model))
        index = Index(tmp / "index.sqlite")
        first = link_photos(tmp / "photos", lfw, people, slice(0, None, 2))

        def run_scan(what: str) -> dict:
            s = scan([tmp / "photos"], rec, index, params, cfg.predict.max_image_pixels,
                     progress=False)
            log.info("%s: %s", what, s)
            return {"photos": s.indexed, "faces": s.faces, "skipped": s.skipped,
                    "seconds": s.seconds, "photos_per_s": s.indexed / s.seconds}

        result["scan_first_half"] = run_scan("scan of the even photos")
        start = time.perf_counter()
        clusters = find_clusters(index, params, cfg.predict.max_image_pixels)
        result["clusters_seconds"] = time.perf_counter() - start
        table = index.face_table()
        unknown = [i for i, r in enumerate(table.rows) if r["label"] == UNKNOWN]
        ids = np.array([table.rows[i]["cluster"] or NOISE for i in unknown])
        result["clustering"] = clustering_scores([table.rows[i] for i in unknown],
                                                 table.embeddings[unknown], ids)
        truth = dict(zip(table.ids.tolist(), centre_truth(table.rows), strict=True))
        named = []
        for c in clusters:
            if len(named) == args.names:
                break
            person = Counter(truth[f] for f in c.face_ids if truth[f]).most_common(1)[0][0]
            if person in HEAD_PEOPLE or person in named:
                continue
            name_target(index, c.name, person, False, params)
            named.append(person)
        table = index.face_table()
        truth = centre_truth(table.rows)
        in_library = {p: [r["label"] == p for r, t in zip(table.rows, truth, strict=True)
                          if t == p and r["label_source"] != "named"] for p in named}
        link_photos(tmp / "photos", lfw, people, slice(1, None, 2))
        result["scan_second_half"] = run_scan("scan of the odd photos")
        table = index.face_table()
        truth = centre_truth(table.rows)
        old = {os.path.abspath(f) for f in first}
        new = {p: [r["label"] == p for r, t in zip(table.rows, truth, strict=True)
                   if t == p and r["path"] not in old]
               for p in named}
        wrong = sum(r["label"] in named and t != r["label"] and t is not None
                    for r, t in zip(table.rows, truth, strict=True))
        result["naming"] = {
            "named": named,
            "left_in_library_right": sum(map(sum, in_library.values())),
            "left_in_library": sum(map(len, in_library.values())),
            "new_photos_right": sum(map(sum, new.values())),
            "new_photos": sum(map(len, new.values())),
            "per_person_new": {p: f"{sum(v)}/{len(v)}" for p, v in new.items()},
            "other_people_given_these_names": int(wrong)}
        result["rescan"] = run_scan("re-scan, nothing changed")
        result["library_photos"] = len(first) + result["scan_second_half"]["photos"]
    result["load_avg_end"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    show(result)


def show(r: dict) -> None:
    t = Table(title=f"photo library, LFW-{r['people']} ({r['library_photos']} photos)")
    t.add_column("measure")
    t.add_column("value")
    c, n = r["clustering"], r["naming"]
    for label, value in [
        ("scan (even photos)", f"{r['scan_first_half']['photos']} photos, "
                               f"{r['scan_first_half']['photos_per_s']:.1f} photos/s"),
        ("scan (odd photos)", f"{r['scan_second_half']['photos_per_s']:.1f} photos/s"),
        ("re-scan, unchanged", f"{r['rescan']['skipped']} photos in "
                               f"{r['rescan']['seconds']:.2f} s"),
        ("unknown faces scored", f"{c['scored_faces']} of {c['faces']}, {c['people']} people"),
        *[(f"{algo}: BCubed P / R / F", f"{c[algo]['bcubed_precision']:.4f} / "
                                        f"{c[algo]['bcubed_recall']:.4f} / "
                                        f"{c[algo]['bcubed_f']:.4f}")
          for algo in ("agglomerative", "hdbscan")],
        *[(f"{algo}: pairwise precision", f"{c[algo]['pairwise_precision']:.4f} "
                                          f"({c[algo]['clusters']} clusters, "
                                          f"{c[algo]['unclustered']} faces in none)")
          for algo in ("agglomerative", "hdbscan")],
        ("named clusters", ", ".join(n["named"])),
        ("their faces left in the library, right",
         f"{n['left_in_library_right']}/{n['left_in_library']}"),
        ("their new photos, right", f"{n['new_photos_right']}/{n['new_photos']}"),
        ("other people's faces given these names", str(n["other_people_given_these_names"])),
        ("load average start / end", f"{r['load_avg_start']:.1f} / {r['load_avg_end']:.1f}"),
    ]:
        t.add_row(label, value)
    Console(width=120).print(t)


if __name__ == "__main__":
    main()
