"""Every core of this machine: the default pipeline stage by stage in a fresh clone (wall,
CPU user+sys, cores busy = CPU / wall, peak RSS of the largest process of the stage's tree,
from wait4), then a no-op `dvc repro` (its time and the stages it ran: must be 0), and Beam
1 vs 2 DirectRunner workers on extract_faces. Writes its figures as JSON.

    python benchmarks/stages.py --out benchmarks/stages.json [--beam-photos 1200]
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


def beam_workers(repo: Path, env: dict[str, str], python: str, photos: int) -> dict:
    """extract_faces on the first `photos` raw photos, engine beam, 1 then 2 workers; the
    two faces dirs must be identical."""
    raw = repo / "data/raw"
    manifest = pd.read_csv(raw / "manifest.csv", dtype=str, keep_default_na=False)
    sub = repo / "bench_raw"
    shutil.copytree(raw, sub, ignore=shutil.ignore_patterns("manifest.csv"))
    manifest[manifest["status"] == "ok"].head(photos).to_csv(sub / "manifest.csv", index=False)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    result = {"photos": photos}
    for workers in (1, 2):
        params["engine"] = {"name": "beam", "beam": {"runner": "DirectRunner", "options": {
            "direct_num_workers": workers, "direct_running_mode": "multi_processing"}}}
        params["datasets"]["stars"]["paths"].update(raw="bench_raw", faces=f"bench_faces{workers}")
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        m = measured([python, "pipelines/extract_faces.py"], repo, env)
        m.pop("output")
        result[f"workers_{workers}"] = m
    subprocess.run(["git", "checkout", "params.yaml"], cwd=repo, check=True)
    same = subprocess.run(["diff", "-r", "-q", "bench_faces1", "bench_faces2"], cwd=repo,
                          capture_output=True)
    result["speedup"] = round(result["workers_1"]["wall_s"] / result["workers_2"]["wall_s"], 2)
    result["identical_outputs"] = same.returncode == 0
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--beam-photos", type=int, default=1200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    results = {"cpus": os.cpu_count(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="starrec-bench-") as tmp:
        repo = clone(Path(tmp))
        env["PYTHONPATH"] = str(repo / "src")
        results.update(run_stages(repo, env, results, args.out))
        results["beam"] = beam_workers(repo, env, sys.executable, args.beam_photos)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("%s written", args.out)
    return 0 if results["noop_repro"]["stages_run"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
