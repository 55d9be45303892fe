"""MLflow plumbing shared by the stages that track: connect (fail fast when a server is down),
the models/run.json hand-over so later stages log to the training run, flat params and
tags that pin a run to its code (git) and data (dvc.lock), pinned pip requirements."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import urllib3
import yaml

from starrec.artifacts import STARS
from starrec.config import DownloadParams, MlflowParams
from starrec.flat import flatten
from starrec.io import write_json_atomic
from starrec.stage import StageError

log = logging.getLogger(__name__)

LOCAL_FALLBACK_URI = "sqlite:///mlflow.db"
RUN_KEYS = ("run_id", "experiment_id", "tracking_uri", "registered_model", "model_version")
OPTIONAL_RUN_KEYS = ("model_id",)  # the logged model (MLflow 3): metrics linked to it
# DVC's record of the repro under way: rewritten as stages finish, so not what makes a run
# `git.dirty` (its data hashes are the run's dvc.* tags)
LOCK_FILES = ("dvc.lock", "research/dvc.lock")
DATA_STAGES = ("download", "extract_faces", "validate", "split", "write_tfrecords", "augment")
PARENT_ENV = "STARREC_SEARCH_PARENT"  # `starrec search`: its MLflow run, each trial's parent
# what a logged model needs to run as it runs here (the installed TF dist is whichever exists)
REQUIREMENTS = ("mlflow", "keras", "tensorflow", "tensorflow-cpu", "opencv-python-headless",
                "mtcnn", "numpy", "onnx", "pandas", "pillow", "pydantic", "pyyaml")


def tracking_uri(cfg: MlflowParams) -> str:
    """MLFLOW_TRACKING_URI wins over params (so CI or a shared server needs no params edit)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri


def sqlite_file(uri: str) -> Path | None:
    """The database file of a sqlite:/// tracking URI (None for any other store)."""
    return Path(uri.removeprefix("sqlite:///")).resolve() if uri.startswith("sqlite:///") else None


def use_tracking_uri(uri: str) -> None:
    """Point mlflow at `uri` in this process. mlflow.set_tracking_uri also exports it as
    MLFLOW_TRACKING_URI, which `tracking_uri` reads as the caller's override; put that back,
    so a later `connect` in the same process follows its own params."""
    caller = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if caller is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = caller


def probe(uri: str, timeout_s: float) -> str | None:
    """None if the MLflow server at `uri` answers GET /health, else the reason it does not."""
    try:
        response = urllib3.request("GET", f"{uri.rstrip('/')}/health", retries=False,
                                   timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s))
    except urllib3.exceptions.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if response.status < 500 else f"/health answered HTTP {response.status}"


def connect(cfg: MlflowParams) -> str:
    """Point mlflow at the tracking store and experiment; returns the URI in use.

    An http(s) server is probed first with a short timeout, and mlflow's own HTTP retries are
    capped, so a down server fails the stage in seconds instead of hanging through minutes of
    retries — or, with `log_locally_if_unreachable`, falls back to a local sqlite store.
    """
    uri = tracking_uri(cfg)
    if uri.startswith(("http://", "https://")):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT",
                              str(max(int(cfg.connect_timeout_s), 1) * 6))
        reason = probe(uri, cfg.connect_timeout_s)
        if reason is not None:
            if not cfg.log_locally_if_unreachable:
                raise StageError(f"MLflow tracking server {uri} unreachable: {reason}")
            log.warning("MLflow tracking server %s unreachable (%s); logging locally to %s",
                        uri, reason, LOCAL_FALLBACK_URI)
            uri = LOCAL_FALLBACK_URI
    use_tracking_uri(uri)
    try:
        mlflow.set_experiment(cfg.experiment)
    except mlflow.exceptions.MlflowException as exc:
        raise StageError(f"MLflow tracking store {uri}: cannot set experiment "
                         f"{cfg.experiment!r} ({exc})") from exc
    log.info("MLflow: tracking %s, experiment %s", uri, cfg.experiment)
    return uri


def write_run_json(path: Path, **run: Any) -> Path:
    """run.json: {run_id, experiment_id, tracking_uri, registered_model, model_version[,
    model_id]}."""
    missing = [k for k in RUN_KEYS if k not in run]
    if missing:
        raise ValueError(f"run.json needs {', '.join(missing)}")
    write_json_atomic(path, {k: run[k] for k in (*RUN_KEYS, *OPTIONAL_RUN_KEYS) if k in run})
    return Path(path)


def read_run_json(path: Path) -> dict[str, Any]:
    """The training run, for `mlflow.start_run(run_id=...)`; StageError if missing or broken."""
    path = Path(path)
    try:
        run = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StageError(f"{path}: cannot read the training run ({exc})") from exc
    if not isinstance(run, dict) or not run.get("run_id"):
        raise StageError(f"{path}: no run_id (the train stage writes it)")
    return run


def flatten_params(obj: Any) -> dict[str, str]:
    """Nested dicts/lists → {"train.optimizer.name": "adam", ...} (MLflow params are flat)."""
    return {key: (json.dumps(value) if isinstance(value, (list, tuple)) else str(value))[:6000]
            for key, value in flatten(obj).items()}


def pip_requirements() -> list[str]:
    """REQUIREMENTS pinned to the versions installed here, so a logged model is loaded with
    the stack it was made with (and mlflow skips its slow requirement inference)."""
    from importlib.metadata import PackageNotFoundError, version

    pinned = []
    for dist in REQUIREMENTS:
        try:
            pinned.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return pinned


def dataset_name(download: DownloadParams) -> str:
    """A readable name for the data set, e.g. `lfw-subset (folder, >= 70 per class)`."""
    source = download.source
    if source == "folder":
        source = Path(download.folder.path).name or download.folder.path
    parts = [download.source]
    if download.classes:
        parts.append(f"{len(download.classes)} classes")
    if download.min_images_per_class:
        parts.append(f">= {download.min_images_per_class} per class")
    return f"{source} ({', '.join(parts)})"


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def dvc_lock_hashes(lock_file: Path, stages: tuple[str, ...] = DATA_STAGES,
                    datasets: tuple[str, ...] = (STARS,)) -> dict[str, str]:
    """{"dvc.<stage>.<out path>": md5} for the outputs dvc.lock records of the data stages
    run on `datasets` (the model stages' data; no `@` in the key: MLflow refuses it in a
    model version's tag)."""
    try:
        lock = yaml.safe_load(Path(lock_file).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    hashes = {}
    for name, stage in (lock.get("stages") or {}).items():
        base, _, dataset = name.partition("@")  # `download@stars`: a data set's stage
        if base not in stages or (dataset and dataset not in datasets):
            continue
        for out in (stage or {}).get("outs", []) or []:
            if out.get("md5"):
                hashes[f"dvc.{base}.{out['path']}"] = out["md5"]
    return hashes


def experiment_tags(env: Mapping[str, str]) -> dict[str, str]:
    """Under `dvc exp run` the experiment's name (DVC_EXP_NAME); under `starrec search` the
    search's run as the parent (PARENT_ENV), so each trial is a child run."""
    tags = {}
    if env.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = env["DVC_EXP_NAME"]
    if env.get(PARENT_ENV):
        tags["mlflow.parentRunId"] = env[PARENT_ENV]
    return tags


def run_name(stage: str, model: str, repo: Path) -> str:
    """`train embedding_head @ 316282e`: what ran, on which commit (the runs table's name)."""
    commit = _git(Path(repo), "rev-parse", "--short", "HEAD")
    return f"{stage} {model}" + (f" @ {commit}" if commit else "")


def run_tags(repo: Path, dataset: str, sizes: Mapping[str, int]) -> dict[str, str]:
    """Tags tying a run to code and data: git commit + dirty flag (tracked files changed,
    dvc.lock aside), dvc.lock hashes of the data stages, dataset name and record counts per
    split, the DVC experiment and parent run it belongs to."""
    repo = Path(repo)
    tags = {"dataset.name": dataset,
            **{f"dataset.size.{split}": str(n) for split, n in sizes.items()},
            "dataset.size": str(sum(sizes.values()))}
    commit = _git(repo, "rev-parse", "HEAD")
    if commit:
        tags["git.commit"] = commit
        status = _git(repo, "status", "--porcelain", "--untracked-files=no", "--", ".",
                      *(f":(exclude){lock}" for lock in LOCK_FILES))
        tags["git.dirty"] = str(bool(status))
    tags.update(dvc_lock_hashes(repo / "dvc.lock"))
    tags.update(experiment_tags(os.environ))
    return tags


SPLIT_CONTEXTS = {"train": "training", "val": "validation", "test": "test"}


def log_split_inputs(split_csv: Path, dataset: str, lock_file: Path) -> None:
    """The train / val / test splits as the active run's MLflow dataset inputs (the runs
    table's Dataset column): named `<data set> <split>`, their rows (face id, class) as the
    profile's row count, and as digest the hash DVC recorded for the split stage's output —
    the same number `dvc status` compares — or, outside DVC, split.csv's md5."""
    import mlflow.data
    import pandas as pd

    table = pd.read_csv(split_csv, dtype=str, keep_default_na=False)
    splits_dir = Path(split_csv).parent
    recorded = {path.partition(".")[2].partition(".")[2]: md5 for path, md5 in
                dvc_lock_hashes(lock_file, ("split",)).items()}
    digest = recorded.get(str(splits_dir)) or hashlib.md5(Path(split_csv).read_bytes()).hexdigest()
    for split, context in SPLIT_CONTEXTS.items():
        rows = table.loc[table["split"] == split, ["face_id", "class"]].reset_index(drop=True)
        with warnings.catch_warnings():  # MLflow registers its local-file source twice (''
            # and 'file' schemes), then warns a path is ambiguous between the two
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
            data = mlflow.data.from_pandas(rows, source=str(split_csv), targets="class",
                                           name=f"{dataset} {split}", digest=digest[:36])
        mlflow.log_input(data, context=context)
