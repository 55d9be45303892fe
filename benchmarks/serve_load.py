"""Serving under load: the real `mlflow models serve` of the registered pyfunc model on
127.0.0.1, sent concurrent requests for a bounded time — one-face photos mixed with bad
payloads (not base64, not an image, oversized, empty, malformed JSON, wrong column).

Reports requests/s, p50/p99 latency of the photo requests, and answers per kind and status.
Passes (exit 0) when the server stays up, every photo is answered 200 with the label the
model gives it unloaded (loaded in this process from the same URI), and every bad payload
gets a 4xx: no 5xx, no dropped connection.

    python benchmarks/serve_load.py --out benchmarks/serve_load.json \
        [--model models:/starrec-pyfunc@champion] [--seconds 30] [--clients 4] [--workers 2]

Runs in the project folder after `dvc repro` (the model and mlflow.db are the pipeline's).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import logging
import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import urllib3
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from starrec.serve.pyfunc import encode_image, request_json  # noqa: E402
from starrec.serve.server import answers_ping, model_server  # noqa: E402

log = logging.getLogger("benchmarks.serve_load")
BAD_SHARE = 0.25  # of requests


def bad_payloads(max_image_bytes: int) -> dict[str, str]:
    """One body per kind of bad request a client may send."""
    return {
        "not_base64": request_json(["%%% not base64 %%%"]),
        "not_image": request_json([base64.b64encode(b"plain text, not a photo").decode()]),
        "oversized": request_json(["A" * (max_image_bytes * 4 // 3 + 8)]),
        "empty": request_json([""]),
        "malformed_json": '{"dataframe_split": {"columns": ["image"], "data": [[',
        "wrong_column": '{"dataframe_split": {"columns": ["photo"], "data": [["x"]]}}',
    }


def labels_of(answer: dict) -> list[str]:
    return [f["label"] for f in answer["faces"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", help="default: the version calibrate registered "
                        "(models/pyfunc.json), else the registry's champion")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    p = params["predict"]
    built = REPO / params["paths"]["models"] / "pyfunc.json"  # the version calibrate logged
    model = args.model or (
        "models:/{registered_model}/{model_version}".format(**json.loads(built.read_text()))
        if built.is_file() else f"models:/{p['registered_model']}@{p['alias']}")
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or params["mlflow"]["tracking_uri"]
    stars = params["datasets"]["stars"]["download"]
    folder = (REPO / stars["folder"]["path"]) if stars.get("source") == "folder" else None
    root = folder or (REPO.parent / "shared/datasets/lfw-subset")
    files = sorted(root.glob("*/*.jpg"))
    photos = [files[i] for i in np.linspace(0, len(files) - 1, args.photos).astype(int)]

    mlflow.set_tracking_uri(tracking_uri)
    local = mlflow.pyfunc.load_model(model)
    images = [encode_image(f) for f in photos]
    bodies = [request_json([b64]) for b64 in images]
    expected = [labels_of(local.predict(pd.DataFrame({"image": [b64]}))[0]) for b64 in images]
    one_face = [i for i, e in enumerate(expected) if len(e) == 1]
    bad = bad_payloads(int(p["max_image_bytes"]))

    http = urllib3.PoolManager(maxsize=args.clients * 2, retries=False,
                               timeout=urllib3.Timeout(connect=5, read=60))
    latencies: list[float] = []
    counts: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    lock = threading.Lock()
    with model_server(model, tracking_uri, args.workers) as base:
        log.info("serving %s on %s with %d workers; %d clients for %.0f s", model, base,
                 args.workers, args.clients, args.seconds)
        end = time.monotonic() + args.seconds

        def client(seed: int) -> None:
            rng = random.Random(seed)
            for _ in itertools.count():
                if time.monotonic() >= end:
                    return
                kind = rng.choice(list(bad)) if rng.random() < BAD_SHARE else "photo"
                i = rng.choice(one_face)
                body = bodies[i] if kind == "photo" else bad[kind]
                start = time.perf_counter()
                try:
                    r = http.request("POST", f"{base}/invocations", body=body,
                                     headers={"Content-Type": "application/json"})
                    status = str(r.status)
                except urllib3.exceptions.HTTPError as exc:
                    r, status = None, f"connection error: {type(exc).__name__}"
                took = time.perf_counter() - start
                with lock:
                    counts[kind, status] += 1
                    if kind == "photo" and r is not None and r.status == 200:
                        latencies.append(took)
                        got = labels_of(r.json()["predictions"][0])
                        if got != expected[i]:
                            wrong.append(f"{photos[i].name}: {got} != {expected[i]}")

        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        alive = answers_ping(base)

    good = sum(n for (k, s), n in counts.items() if k == "photo")
    good_ok = sum(n for (k, s), n in counts.items() if k == "photo" and s == "200")
    bad_4xx = sum(n for (k, s), n in counts.items() if k != "photo" and s.startswith("4"))
    bad_total = sum(n for (k, s), n in counts.items() if k != "photo")
    errors_5xx = sum(n for (_, s), n in counts.items() if s.startswith("5"))
    lat = np.array(latencies) * 1000
    result = {
        "model": model, "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
        "server_workers": args.workers, "clients": args.clients, "seconds": round(elapsed, 1),
        "requests_per_s": round(sum(counts.values()) / elapsed, 1),
        "photo_requests_per_s": round(good / elapsed, 1),
        "photo_latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1),
                             "p99": round(float(np.percentile(lat, 99)), 1)} if len(lat) else {},
        "answers": {f"{k} {s}": n for (k, s), n in sorted(counts.items())},
        "photos_answered_right": f"{good_ok - len(wrong)}/{good}",
        "bad_answered_4xx": f"{bad_4xx}/{bad_total}", "responses_5xx": errors_5xx,
        "server_up_after": alive, "wrong": wrong[:10],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("%s", json.dumps(result, indent=2))
    passed = alive and not wrong and good_ok == good and bad_4xx == bad_total
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
