"""Run every benchmark in turn (`make bench`): extraction speed, input pipeline vs training
step, few-shot recognition, pretrained face models, the class cleaner on label noise, and the
default pipeline stage by stage (cores busy, no-op repro, Beam 1 vs 2 workers), serving
under load (`mlflow models serve`, photos mixed with bad payloads), the video cast list
(x real time per detection interval), the photo library (scan, re-scan, clustering and
naming on LFW-62; nearest-star search among 100k identities), a new user's first hour
(fresh clone: repro, predict with no --model, one photo added to LFW-62) and robustness
(models on clean and degraded LFW-62 faces). Each prints
its own table; this sequences them, so one slow or failing benchmark does not hide the
others' figures, then gathers the JSON they write into benchmarks/results.json and renders
docs/benchmarks.md from it.

    python benchmarks/run_all.py [--only extract_faces input_pipeline few_shot face_models
                                  clean_noise stages serve_load video_cast library
                                  library_ann first_hour robustness]

few_shot uses models/backbone.keras when the pretrain stage has made it (else it pretrains).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("extract_faces", "input_pipeline", "few_shot", "face_models", "clean_noise",
              "stages", "serve_load", "video_cast", "library", "library_ann", "first_hour",
              "robustness")
# the benchmarks that write JSON (face_models, clean_noise, library* and robustness write
# theirs themselves)
JSON = {"input_pipeline": HERE / "input_pipeline.json", "stages": HERE / "stages.json",
        "serve_load": HERE / "serve_load.json", "video_cast": HERE / "video_cast.json",
        "first_hour": HERE / "first_hour.json",
        "face_models": HERE / "face_models.json", "clean_noise": HERE / "clean_noise.json",
        "library": HERE / "library.json", "library_ann": HERE / "library_ann.json",
        "robustness": HERE / "robustness.json"}
RESULTS = HERE / "results.json"
DOC = HERE.parent / "docs" / "benchmarks.md"
log = logging.getLogger("benchmarks")


def command(name: str) -> list[str]:
    cmd = [sys.executable, str(HERE / f"{name}.py")]
    backbone = HERE.parent / "models" / "backbone.keras"
    if name == "few_shot" and backbone.is_file():
        cmd += ["--backbone", str(backbone)]
    # the others write their JSON themselves
    if name in ("input_pipeline", "stages", "serve_load", "video_cast", "first_hour"):
        cmd += ["--out", str(JSON[name])]
    return cmd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    failed, runs = [], {}
    for name in args.only:
        log.info("== %s ==", name)
        start = time.perf_counter()
        code = subprocess.call(command(name), cwd=HERE.parent)
        runs[name] = {"exit": code, "seconds": round(time.perf_counter() - start, 1),
                      "finished": time.strftime("%Y-%m-%d %H:%M")}
        log.info("== %s: exit %d after %.0f s ==", name, code, time.perf_counter() - start)
        if code:
            failed.append(name)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": {}}
    results["runs"].update(runs)
    for name, path in JSON.items():
        if path.is_file():  # this run's, else the last one's
            results[name] = json.loads(path.read_text())
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    DOC.write_text(render(results))
    log.info("%s and %s written", RESULTS, DOC)
    if failed:
        log.error("failed: %s", ", ".join(failed))
    return 1 if failed else 0


HEADER = """# Benchmarks

`make bench` (= `python benchmarks/run_all.py`) runs every benchmark, writes
`benchmarks/results.json` and regenerates this page from it; `--only NAME ...` reruns some
and keeps the others' last figures (the table says when each ran). Figures are from a 2-core machine
shared with other jobs (the load average at the start is recorded): ratios are measured side
by side in one run, absolute rates are noisy. Peak RSS is the largest single process of a
stage's tree (wait4's ru_maxrss), not the sum. Cores busy = CPU (user + sys) / wall.
"""


# Where a stage leaves the second core idle (read off the figures and the stages' logs).
# Python imports run on one core: TensorFlow ~4-5 s of CPU, mlflow.keras ~6 s,
# great_expectations ~3.5 s (`/usr/bin/time python -c "import tensorflow"`).
STAGE_NOTES = {
    "download": "copies files and hashes them: disk-bound, a few seconds",
    "extract_faces": "two worker processes (extract.n_jobs); the parent gathers rows",
    "embed": "OpenCV's dnn runs SFace on every core; reading the crops is serial",
    "validate": "most of it is importing great_expectations (one core); the suite is fast",
    "split": "seconds of pandas: nothing worth spreading",
    "write_tfrecords": "TensorFlow's import (one core) is most of it; writing runs at ~11k "
                       "images/s (input pipeline below)",
    "augment": "TensorFlow's import, then one tf.data pass over the train split",
    "train": "imports (TensorFlow, mlflow.keras) and logging the model take most of it; the "
             "head's epochs are milliseconds of small matrix products",
    "evaluate": "imports, then scikit-learn's eigenfaces grid (n_jobs 1: seconds)",
    "calibrate": "OpenCV's dnn (every core) on the held-out people's photos; imports serial",
    "report": "imports and a few MLflow calls",
}


def beam_table(b: dict) -> list[str]:
    """Face extraction on Beam, 1 vs 2 workers: per stage and in all, whole stage and the
    Beam pipeline inside it."""
    out = ["", f"## Beam DirectRunner (multi_processing), face extraction of {b['photos']} "
           f"photos (LFW-62: the `{b['data_set']}` data set)\n",
           "| stage | workers | wall s | Beam pipeline s | CPU s | cores busy | speed-up |",
           "|---|---|---|---|---|---|---|"]
    for stage in b["speedup"]:
        for w in (1, 2):
            m = b[f"workers_{w}"][stage]
            out.append(f"| {stage} | {w} | {m['wall_s']} | {m['beam_pipeline_s']} | "
                       f"{m['cpu_s']} | {m['cores_busy']} | "
                       f"{b['speedup'][stage] if w == 2 else ''} |")
    return out + ["", f"Speed-up 1 → 2 workers, both stages: **{b['speedup']['total']}×** "
                  f"(the Beam pipelines alone: {b['speedup_beam_pipeline']}×); identical "
                  f"outputs: {b['identical_outputs']}."]


def render(r: dict) -> str:
    """docs/benchmarks.md from results.json: one table per benchmark that wrote figures."""
    out = [HEADER, "## Runs\n", "| benchmark | exit | s | finished |", "|---|---|---|---|"]
    out += [f"| {n} | {v['exit']} | {v['seconds']} | {v['finished']} |"
            for n, v in r["runs"].items()]
    if "stages" in r:
        st = r["stages"]
        out += ["", f"## Default pipeline, stage by stage ({st['cpus']} CPUs, load "
                f"{st['load_avg_1m_at_start']} at start)\n",
                "| stage | wall s | CPU s | cores busy | peak RSS MiB | why not 2 cores |",
                "|---|---|---|---|---|---|"]
        out += [f"| {n} | {v['wall_s']} | {v['cpu_s']} | {v['cores_busy']} | {v['peak_rss_mib']} "
                f"| {STAGE_NOTES.get(n.split('@')[0], '')} |" for n, v in st["stages"].items()]
        if st.get("partial"):
            out += ["", "*Partial: the run was cut off after the stages above.*"]
        else:
            full, noop = st["full_repro"], st["noop_repro"]
            out += [f"| **full repro** | {full['wall_s']} | {full['cpu_s']} | "
                    f"{full['cores_busy']} | |", "",
                    f"No-op `dvc repro`: {noop['wall_s']} s, {noop['stages_run']} stages run."]
        if "beam" in st:
            out += beam_table(st["beam"])
    if "input_pipeline" in r:
        ip = r["input_pipeline"]
        out += ["", f"## Input pipeline vs training step ({ip['images']} images "
                f"{ip['shape']}, batch {ip['batch_size']})\n", "| | images/s |", "|---|---|"]
        out += [f"| train step {m} | {v} |" for m, v in ip["train_step_images_per_s"].items()]
        out += [f"| {k} | {v} |" for k, v in ip["input_images_per_s"].items()]
        out += [f"| TFRecord write | {ip['tfrecord_write_images_per_s']} |"]
    if "face_models" in r:
        fm = r["face_models"]
        out += ["", "## Face models (faces/s)\n", "| model | faces/s |", "|---|---|"]
        out += [f"| detector {n} | {1000 / v['ms_per_photo']:.1f} |"
                for n, v in fm["detection"].items()]
        out += [f"| embedder {n} (detect + embed) | {v['faces_per_s']:.1f} |"
                for n, v in fm["embedders"].items()]
    if "serve_load" in r:
        sl = r["serve_load"]
        lat = sl["photo_latency_ms"]
        out += ["", f"## Serving under load (`mlflow models serve -w {sl['server_workers']}`, "
                f"{sl['clients']} clients, {sl['seconds']} s, load {sl['load_avg_1m']})\n",
                "| requests/s | photo requests/s | photo p50 ms | photo p99 ms | photos right | "
                "bad payloads 4xx | 5xx | server up after |", "|---|---|---|---|---|---|---|---|",
                f"| {sl['requests_per_s']} | {sl['photo_requests_per_s']} | {lat.get('p50')} | "
                f"{lat.get('p99')} | {sl['photos_answered_right']} | {sl['bad_answered_4xx']} | "
                f"{sl['responses_5xx']} | {sl['server_up_after']} |", "",
                "Answers per kind: " + ", ".join(f"{k}: {n}" for k, n in sl["answers"].items())
                + "."]
    if "video_cast" in r:
        vc = r["video_cast"]
        out += ["", f"## Video cast list (`starrec cast`; {vc['video']}, {vc['cpus']} CPUs)\n",
                "| detect every N frames | x real time | cores busy | load | video s per CPU s "
                "| tracks / faces | named right |", "|---|---|---|---|---|---|---|"]
        out += [f"| {n} | {v['x_real_time']} | {v['cores_busy']} | {v['load_avg_1m']} | "
                f"{v['x_real_time_per_cpu_s']} | {v['tracks']} / {v['faces_in_shots']} | "
                f"{v['named_right']} / {v['tracks']} |" for n, v in vc["detect_every"].items()]
        cm = vc["carry_ms"]
        out += ["", f"Carrying one face box one frame: median optical flow {cm['median_flow']} "
                f"ms, OpenCV TrackerMIL {cm['mil']} ms."]
    out += library_tables(r)
    if "first_hour" in r:
        out += first_hour_table(r["first_hour"])
    if "robustness" in r:
        out += robustness_table(r["robustness"])
    return "\n".join(out) + "\n"


def first_hour_table(f: dict) -> list[str]:
    """Fresh clone: predict right after the pipeline; one photo added to LFW-62."""
    lfw7, lfw62 = f["lfw7"], f["lfw62"]
    a, b = lfw62["from_nothing"], lfw62["one_photo_added"]
    return ["", f"## A new user's first hour (fresh clone, load {f['load_avg_1m_at_start']} "
            "at start)\n",
            f"Default `dvc repro` (LFW-7) from nothing: {lfw7['repro_wall_s']} s; then "
            f"`starrec predict` of a Bush photo, no `--model`: **{lfw7['predict_bush']}**; "
            f"TensorFlow start-up lines in the stage logs: {lfw7['tensorflow_lines_in_log'] or 'none'}.",
            "", "| LFW-62 | extract_faces + embed s | whole repro s |", "|---|---|---|",
            f"| from nothing | {a['face_stages_wall_s']} | {a['repro_wall_s']} |",
            f"| one photo added | {b['face_stages_wall_s']} | {b['repro_wall_s']} |",
            f"| share | **{100 * lfw62['face_stages_share']:.1f} %** (target <= 10 %) | "
            f"**{100 * lfw62['repro_share']:.1f} %** (target <= 30 %) |", "",
            f"After the switch to LFW-62, `starrec predict` of the Bush photo: "
            f"{lfw62['predict_bush']}."]


def library_tables(r: dict) -> list[str]:
    """The photo library: scan and re-scan speed, clustering, naming; nearest-star search."""
    out = []
    if "library" in r:
        lb = r["library"]
        c, n = lb["clustering"], lb["naming"]
        out += ["", f"## Photo library, LFW-{lb['people']} ({lb['library_photos']} photos, load "
                f"{lb['load_avg_start']:.1f} at start)\n", "| measure | value |", "|---|---|",
                f"| scan, photos/s (even photos, then odd) | "
                f"{lb['scan_first_half']['photos_per_s']:.1f}, "
                f"{lb['scan_second_half']['photos_per_s']:.1f} |",
                f"| re-scan of the unchanged library | {lb['rescan']['seconds']:.2f} s |"]
        for algo in ("agglomerative", "hdbscan"):
            a = c[algo]
            out.append(f"| {algo}: BCubed F, pairwise precision ({c['scored_faces']} unknown "
                       f"faces, {c['people']} people) | {a['bcubed_f']:.4f}, "
                       f"{a['pairwise_precision']:.4f} |")
        out += [f"| named clusters: their new photos named right | {n['new_photos_right']}/"
                f"{n['new_photos']} |",
                f"| named clusters: their other faces in the library named right | "
                f"{n['left_in_library_right']}/{n['left_in_library']} |",
                f"| other people's faces given these names | "
                f"{n['other_people_given_these_names']} |"]
    if "library_ann" in r:
        a = r["library_ann"]
        out += ["", f"## Nearest star among {a['stars']} identities ({a['queries']} queries, "
                f"load {a['load_avg']:.1f})\n",
                "| search | p50 ms | p99 ms | p99 CPU ms | recall@1 |", "|---|---|---|---|---|",
                f"| usearch HNSW (M {a['connectivity']}, ef {a['expansion_search']}) | "
                f"{a['ann_p50_ms']:.3f} | {a['ann_p99_ms']:.3f} | "
                f"{a.get('ann_cpu_p99_ms', float('nan')):.3f} | {a['recall_at_1']:.4f} |",
                f"| exact | {a['exact_p50_ms']:.3f} | {a['exact_p99_ms']:.3f} | "
                f"{a.get('exact_cpu_p99_ms', float('nan')):.3f} | 1 |", "",
                f"Index build {a['build_s']:.1f} s, load {a['load_s']:.2f} s."]
    return out


def robustness_table(b: dict) -> list[str]:
    """Accuracy / macro-F1 per model (rows) and severity (columns), and the degraded mean."""
    head = [*b["severities"], "degraded mean"]
    out = ["", f"## Robustness ({b['source']}: {b['classes']} people, {b['train_faces']} train "
           f"and {b['n_faces']} test faces, seed {b['seed']})\n",
           "| model | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for model, by in b["scores"].items():
        cells = [*by.values(), b["degraded_mean"][model]]
        out.append(f"| {model} | " + " | ".join(f"{m['accuracy']:.3f} / {m['macro_f1']:.3f}"
                                                for m in cells) + " |")
    return out + ["", "Accuracy / macro-F1; the degraded mean leaves clean out."]


if __name__ == "__main__":
    sys.exit(main())
