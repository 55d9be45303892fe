"""`starrec cast` speed and quality: how many times real time a 25 fps 640x480 video is cast
at each `video.detect_every` N, with tracks per face-shot and tracks named right.

Run: python benchmarks/video_cast.py [--model URI] [--every 1 5 8 10] [--repeat 2]
                                     [--out benchmarks/video_cast.json]

The video is the test clip (tests/helpers/clips.py: LFW photos as shots with pans, zooms
and cuts; two stars, two strangers, each in two shots, one two-face shot) played `--repeat`
times. Without --model, a small gallery is built as the tests build it (an SFace head on 3
LFW people, the two stars enrolled from 5 other photos each): a minute of set-up. Also
times the per-face cost of carrying a box one frame: median optical flow vs OpenCV's MIL.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
log = logging.getLogger("video_cast")


def gallery(root: Path, lfw: Path, stars: list[str]) -> str:
    """gallery.json of a small SFace head with `stars` enrolled (as tests/model/test_cast.py)."""
    from helpers.head import sface_model_with_impostors
    from helpers.params import section

    from starrec.artifacts import GALLERY_JSON
    from starrec.enroll.enroll import enroll

    predict = section("predict")
    model = sface_model_with_impostors(root, lfw)
    for star in stars:
        enroll(star, sorted((lfw / star).glob("*.jpg"))[:5], model,
               section("enroll").unknown_accept, predict.max_image_pixels, predict.batch_size)
    return str(model.with_name(GALLERY_JSON))


def carry_ms(video: Path, frames: int = 40) -> dict[str, float]:
    """ms to carry one face box one frame: the tracker's median flow on half-size frames
    (making the small gray copy included) vs cv2.TrackerMIL."""
    import cv2

    from starrec.video.flow import carry, small_gray

    cap = cv2.VideoCapture(str(video))
    bgr = [cap.read()[1] for _ in range(frames + 1)]
    cap.release()
    box = (200, 150, 150, 200)  # the first shot's face, roughly
    t = time.perf_counter()
    prev = small_gray(bgr[0])
    for i in range(1, frames + 1):
        cur = small_gray(bgr[i])
        carry(prev, cur, [box], 40)
        prev = cur
    flow = (time.perf_counter() - t) / frames * 1000
    mil = cv2.TrackerMIL_create()
    mil.init(bgr[0], box)
    t = time.perf_counter()
    for i in range(1, frames + 1):
        mil.update(bgr[i])
    return {"median_flow": round(flow, 2), "mil": round((time.perf_counter() - t) / frames
                                                          * 1000, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a model URI as for `starrec cast` (default: a small "
                                    "gallery built here)")
    ap.add_argument("--every", type=int, nargs="+", default=[1, 5, 8, 10])
    ap.add_argument("--repeat", type=int, default=2, help="times the 7-shot clip is played")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "video_cast.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from helpers.clips import CAST_SHOTS, FPS, STAR_A, STAR_B, named_right, write_clip
    from helpers.params import section
    from helpers.paths import shared_datasets

    from starrec.serve.load import load_predictor
    from starrec.video.run import cast_video

    lfw = shared_datasets() / "lfw-subset"
    stars = {STAR_A, STAR_B}
    predict = section("predict")
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "clip.mp4"
        shots = write_clip(video, lfw, CAST_SHOTS * args.repeat)
        faces = sum(len(s.people) for s in shots)
        uri = args.model or gallery(Path(tmp) / "model", lfw, sorted(stars))
        predictor = load_predictor(uri, predict.top_k, predict.batch_size)
        cast_video(predictor, video, section("video"))  # warm-up: first calls build graphs
        runs = {}
        for n in args.every:
            load = os.getloadavg()[0]
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            t = time.perf_counter()
            cast = cast_video(predictor, video, section("video", detect_every=n))
            wall = time.perf_counter() - t
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            runs[n] = {"frames": cast.frames, "wall_s": round(wall, 2),
                       "x_real_time": round(cast.frames / FPS / wall, 2),
                       "cores_busy": round(cpu / wall, 2), "load_avg_1m": round(load, 2),
                       # the load-independent figure: video seconds per CPU second
                       "x_real_time_per_cpu_s": round(cast.frames / FPS / cpu, 2),
                       "tracks": len(cast.tracks), "faces_in_shots": faces,
                       "named_right": named_right(cast.tracks, shots, stars),
                       "cast": sorted({t.label for t in cast.tracks})}
            log.info("N=%d: %s", n, runs[n])
        result = {"video": f"{len(shots)} shots, {shots[-1].stop} frames, 25 fps 640x480",
                  "model": args.model or "small gallery (2 stars enrolled)",
                  "cpus": os.cpu_count(), "detect_every": runs, "carry_ms": carry_ms(video)}
    print("| N | x real time | cores busy | per CPU s | tracks / faces | named right |")
    print("|---|---|---|---|---|---|")
    for n, r in runs.items():
        print(f"| {n} | {r['x_real_time']} | {r['cores_busy']} | {r['x_real_time_per_cpu_s']} | "
              f"{r['tracks']} / "
              f"{r['faces_in_shots']} | {r['named_right']} / {r['tracks']} |")
    print(f"carrying a box one frame: {result['carry_ms']} ms")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
