"""A new user's first hour, measured in a fresh clone of this checkout: the default `dvc
repro` (LFW-7) from nothing, then `starrec predict` of a Bush photo with no `--model`; the
folder source switched to a copy of LFW-62 (3000+ photos), the face cache cleared, `dvc
repro` from nothing stage by stage; one photo added, `dvc repro` again stage by stage, and
`starrec predict` again. The figures: extract_faces + embed after the added photo as a share
of their run from nothing (target <= 10 %), the whole repro likewise (<= 30 %).

    python benchmarks/first_hour.py --out benchmarks/first_hour.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from stages import clone, measured

log = logging.getLogger("benchmarks.first_hour")
BUSH = "George_W_Bush/George_W_Bush_0529.jpg"  # lfw-subset
ADDED = "George_W_Bush/George_W_Bush_0001.jpg"  # lfw-original-10x10: not in lfw-subset's bytes
FACE_STAGES = ("extract_faces@stars", "embed@stars")


def stage_by_stage(repo: Path, env: dict[str, str]) -> dict[str, dict]:
    """`dvc repro -s` of each stage of dvc.yaml in order: wall, CPU (unchanged ones: ~0)."""
    names = subprocess.run(["dvc", "stage", "list", "--name-only", "dvc.yaml"], cwd=repo,
                           env=env, capture_output=True, text=True, check=True).stdout.split()
    stages = {}
    for stage in names:
        m = measured(["dvc", "repro", "-s", stage], repo, env)
        stages[stage] = {"wall_s": m["wall_s"], "cpu_s": m["cpu_s"],
                         "ran": f"Running stage '{stage}'" in m.pop("output")}
        log.info("  %s: %s", stage, stages[stage])
    return stages


def predicted_label(repo: Path, env: dict[str, str], photo: Path, out: str) -> str:
    subprocess.run(["starrec", "predict", str(photo), "--out", out], cwd=repo, env=env,
                   check=True, capture_output=True)
    table = pd.read_csv(repo / out / "predictions.csv", dtype=str, keep_default_na=False)
    return ",".join(table["label"])


def totals(stages: dict[str, dict]) -> dict[str, float]:
    faces = round(sum(stages[s]["wall_s"] for s in FACE_STAGES), 2)
    return {"face_stages_wall_s": faces,
            "repro_wall_s": round(sum(s["wall_s"] for s in stages.values()), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "TQDM_DISABLE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user has: starrec keeps TF quiet itself
    results: dict = {"cpus": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="starrec-first-hour-") as tmp:
        repo = clone(Path(tmp))
        env["PYTHONPATH"] = str(repo / "src")
        shared = repo.parent / "shared" / "datasets"
        log.info("default dvc repro (LFW-7) from nothing")
        default = measured(["dvc", "repro"], repo, env)
        log_text = default.pop("output")
        noise = [w for w in ("oneDNN", "absl::InitializeLog") if w in log_text]
        bush = predicted_label(repo, env, shared / "lfw-subset" / BUSH, "predictions_lfw7")
        results["lfw7"] = {"repro_wall_s": default["wall_s"], "predict_bush": bush,
                           "tensorflow_lines_in_log": noise}
        log.info("LFW-7: %s", results["lfw7"])

        photos = Path(tmp) / "lfw62"
        shutil.copytree(shared / "lfw-subset", photos)
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["datasets"]["stars"]["download"].update(
            folder={"path": str(photos)}, min_images_per_class=20)
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        shutil.rmtree(repo / "data" / "cache" / "faces", ignore_errors=True)
        log.info("LFW-62 from nothing, stage by stage")
        cold = stage_by_stage(repo, env)
        shutil.copy(shared / "lfw-original-10x10" / ADDED,
                    photos / "George_W_Bush" / "added_George_W_Bush_0001.jpg")
        log.info("LFW-62 after one added photo, stage by stage")
        warm = stage_by_stage(repo, env)
        results["lfw62"] = {"from_nothing": {**totals(cold), "stages": cold},
                            "one_photo_added": {**totals(warm), "stages": warm},
                            "predict_bush": predicted_label(repo, env, shared / "lfw-subset" / BUSH,
                                                            "predictions_lfw62")}
        a, b = results["lfw62"]["from_nothing"], results["lfw62"]["one_photo_added"]
        results["lfw62"]["face_stages_share"] = round(b["face_stages_wall_s"]
                                                      / a["face_stages_wall_s"], 3)
        results["lfw62"]["repro_share"] = round(b["repro_wall_s"] / a["repro_wall_s"], 3)
        log.info("LFW-62: extract_faces + embed %.1f s -> %.1f s (%.1f %%), repro %.1f s -> "
                 "%.1f s (%.1f %%)", a["face_stages_wall_s"], b["face_stages_wall_s"],
                 100 * results["lfw62"]["face_stages_share"], a["repro_wall_s"],
                 b["repro_wall_s"], 100 * results["lfw62"]["repro_share"])
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("%s written", args.out)
    ok = (results["lfw7"]["predict_bush"] == "George_W_Bush" and not noise
          and results["lfw62"]["face_stages_share"] <= 0.10
          and results["lfw62"]["repro_share"] <= 0.30)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
