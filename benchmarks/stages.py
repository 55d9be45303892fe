"""Every core of this machine: the default pipeline stage by stage in a fresh clone (wall,
CPU user+sys, cores busy = CPU / wall, peak RSS of the largest process of the stage's tree,
from wait4), then a no-op `dvc repro` (its time and the stages it ran: must be 0), and Beam
1 vs 2 DirectRunner workers on face extraction (extract_faces + embed) of LFW-62. Writes its
figures as JSON.

    python benchmarks/stages.py --out benchmarks/stages.json [--beam-photos N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("benchmarks.stages")


def measured(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run `cmd`; wall s, CPU s (user + sys of it and its waited-for children), cores busy,
    peak RSS MiB (ru_maxrss of wait4: the largest single process of the tree)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "cores_busy": round(cpu / wall, 2),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "output": out}


def clone(work: Path) -> Path:
    """This checkout's HEAD in `work/repo`, `../shared` beside it (params.yaml's paths)."""
    (work / "shared").symlink_to(REPO.parent.joinpath("shared").resolve())
    subprocess.run(["git", "clone", "-q", str(REPO), str(work / "repo")], check=True)
    return work / "repo"


def run_stages(repo: Path, env: dict[str, str], results: dict, out: Path) -> dict:
    """Each stage in turn; `out` rewritten after each (marked partial), so a cut-off run
    still leaves the stages it measured."""
    stages = {}
    names = subprocess.run(["dvc", "stage", "list", "--name-only", "dvc.yaml"], cwd=repo,
                           env=env, capture_output=True, text=True, check=True).stdout.split()
    for stage in names:  # dvc.yaml's order: each stage after the ones it reads
        log.info("dvc repro -s %s", stage)
        m = measured(["dvc", "repro", "-s", stage], repo, env)
        m.pop("output")
        stages[stage] = m
        log.info("  %s", m)
        out.write_text(json.dumps({**results, "stages": stages, "partial": True}, indent=2))
    total = {k: round(sum(s[k] for s in stages.values()), 2) for k in ("wall_s", "cpu_s")}
    total["cores_busy"] = round(total["cpu_s"] / total["wall_s"], 2)
    noop = measured(["dvc", "repro"], repo, env)
    ran = [line for line in noop.pop("output").splitlines() if line.startswith("Running stage")]
    return {"stages": stages, "full_repro": total,
            "noop_repro": {"wall_s": noop["wall_s"], "stages_run": len(ran)}}


BEAM_STAGES = ("extract_faces", "embed")  # face extraction: detect + align, then embed
BEAM_DONE = re.compile(r"(\d+) done on Beam in ([\d.]+) s")


def beam_workers(repo: Path, env: dict[str, str], python: str, photos: int) -> dict:
    """Face extraction (extract_faces then embed) of the `public` data set (LFW-62, the
    largest set here; its first `photos` ok photos, 0: all) on Beam's DirectRunner, 1 then 2
    workers: each stage's wall/CPU and the Beam pipeline's own seconds. The outputs of the
    two runs must be identical."""
    subprocess.run([python, "pipelines/download.py", "--dataset", "public"], cwd=repo, env=env,
                   check=True, capture_output=True)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    raw = repo / params["datasets"]["public"]["paths"]["raw"]
    manifest = pd.read_csv(raw / "manifest.csv", dtype=str, keep_default_na=False)
    ok = manifest[manifest["status"] == "ok"]
    sub = repo / "bench_raw"
    shutil.copytree(raw, sub, ignore=shutil.ignore_patterns("manifest.csv"))
    chosen = ok.head(photos) if photos else ok
    chosen.to_csv(sub / "manifest.csv", index=False)
    result: dict = {"photos": len(chosen), "data_set": "public"}
    for workers in (1, 2):
        params["engine"] = {"name": "beam", "beam": {"runner": "DirectRunner", "options": {
            "direct_num_workers": workers, "direct_running_mode": "multi_processing"}}}
        params["datasets"]["public"]["paths"].update(
            raw="bench_raw", faces=f"bench_faces{workers}", embeddings=f"bench_emb{workers}")
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        runs = {}
        for stage in BEAM_STAGES:
            m = measured([python, f"pipelines/{stage}.py", "--dataset", "public"], repo, env)
            done = BEAM_DONE.search(m.pop("output"))
            if done is None:
                raise RuntimeError(f"{stage}: its log has no 'done on Beam in' line")
            runs[stage] = {**m, "beam_pipeline_s": float(done.group(2))}
            log.info("  beam %d worker(s) %s: %s", workers, stage, runs[stage])
        runs["total"] = {k: round(sum(r[k] for r in runs.values()), 2)
                         for k in ("wall_s", "cpu_s", "beam_pipeline_s")}
        runs["total"]["cores_busy"] = round(runs["total"]["cpu_s"] / runs["total"]["wall_s"], 2)
        result[f"workers_{workers}"] = runs
    subprocess.run(["git", "checkout", "params.yaml"], cwd=repo, check=True)
    one, two = result["workers_1"], result["workers_2"]
    result["speedup"] = {stage: round(one[stage]["wall_s"] / two[stage]["wall_s"], 2)
                         for stage in (*BEAM_STAGES, "total")}
    result["speedup_beam_pipeline"] = round(
        one["total"]["beam_pipeline_s"] / two["total"]["beam_pipeline_s"], 2)
    result["identical_outputs"] = all(
        subprocess.run(["diff", "-r", "-q", f"{a}1", f"{a}2"], cwd=repo).returncode == 0
        for a in ("bench_faces", "bench_emb"))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--beam-photos", type=int, default=0, help="0: all")
    parser.add_argument("--beam-only", action="store_true", help="skip the default pipeline")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1",
           "COLUMNS": "200"}  # log lines unwrapped: the Beam seconds are read from them
    env.pop("MLFLOW_TRACKING_URI", None)
    results = {"cpus": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="starrec-bench-") as tmp:
        repo = clone(Path(tmp))
        env["PYTHONPATH"] = str(repo / "src")
        if not args.beam_only:
            results.update(run_stages(repo, env, results, args.out))
        results["beam"] = beam_workers(repo, env, sys.executable, args.beam_photos)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("%s written", args.out)
    return 0 if results.get("noop_repro", {"stages_run": 0})["stages_run"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
