"""Both pipelines (dvc.yaml, research/dvc.yaml) on tiny real data in a temp git + DVC repo,
each stage run under helpers/audit_run.py: everything a stage read (files, listed folders,
imported modules, params keys) must be declared in its dvc.yaml, everything it left behind
must be a declared output, and a second repro must run nothing at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.dvc_repo import make_repo, run, stages_run
from helpers.imports import module_file
from helpers.paths import REPO_ROOT
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.artifacts import PUBLIC, STARS
from starrec.config import DatasetDownload

AUDIT_RUN = REPO_ROOT / "tests" / "helpers" / "audit_run.py"
PIPELINES = ("dvc.yaml", "research/dvc.yaml")  # the default pipeline first: research reads it
# Read without being declared, on purpose:
CACHE = "data/cache"  # download.cache_dir: downloads kept between runs, verified on every read
ALLOWED = {
    "dvc.lock": "train tags its MLflow run with the data hashes DVC recorded (provenance only)",
    ".git": "MLflow tags each run with the git commit (provenance only)",
    CACHE: "a cache, not an input: every file in it is checked against its sha256 when read",
}
ALLOWED_PARAMS = {
    "face_cache": "where the per-photo result cache (under data/cache) lives and its cap: "
                  "outputs are the same bytes whatever they are, so neither re-runs a stage",
}


def tiny_params(shared: Path, mlflow_root: Path) -> dict:
    lfw10 = str(shared / "lfw-original-10x10")
    return {
        "datasets": {
            STARS: {"download": {"folder": {"path": lfw10}, "min_images_per_class": 0,
                                 "classes": ["Colin_Powell", "George_W_Bush", "Tony_Blair"]}},
            PUBLIC: {"download": {"folder": {"path": lfw10}, "min_images_per_class": 0}}},
        "extract": {"n_jobs": 1},
        "validate": {"min_images_per_class": 5},
        "augment": {"copies": 1},
        "pretrain": {"embedding_dim": 16, "widths": [8, 16], "epochs": 2, "batch_size": 32,
                     "pairs": 50, "holdout_people": 0.34},
        "train": {"embedding_head": {"epochs": 5}},
        "evaluate": {"baseline_components": 5, "baseline_C": [10.0],
                     "baseline_gamma": ["scale"], "batch_size": 16, "few_shot": 2},
        "compare": {"embedders": ["sface", "own"]},
        "predict": {"unknown": {"path": lfw10, "max_per_person": 3}},
        "mlflow": store(mlflow_root, "starrec").model_dump(mode="json"),
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path):
    """The repo after one audited `dvc repro`, its audits, and a second repro's output."""
    root = tmp_path_factory.mktemp("declared")
    repo = make_repo(root / "repo", tiny_params(shared_datasets, root / "mlflow"))
    for dvc_yaml in PIPELINES:
        text = (repo / dvc_yaml).read_text()
        (repo / dvc_yaml).write_text(text.replace("cmd: python pipelines/",
                                                  f"cmd: python {AUDIT_RUN} pipelines/"))
    run(["git", "commit", "-qam", "audited"], repo)
    env = {"STARREC_AUDIT_DIR": str(root / "audit"), "PYTHONDONTWRITEBYTECODE": "1"}
    first = "".join(run(["dvc", "repro", p], repo, **env).stdout for p in PIPELINES)
    second = "".join(run(["dvc", "repro", p], repo, **env).stdout for p in PIPELINES)
    audits = {p.stem: json.loads(p.read_text()) for p in (root / "audit").glob("*.json")}
    return repo, audits, first, second


def stages(repo: Path) -> dict:
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        return {s.name: {
            "deps": [Path(d.fs_path) for d in s.deps if not isinstance(d, ParamsDependency)],
            "params": [k for d in s.deps if isinstance(d, ParamsDependency) for k in d.params],
            "outs": [Path(o.fs_path) for o in s.outs],
            "persist": [Path(o.fs_path) for o in s.outs if o.persist]}
            for s in dvc.index.stages}


def covered(path: Path, by: list[Path]) -> bool:
    return any(path == p or p in path.parents for p in by)


def param_key(key: str, dataset: str) -> str | None:
    """The params.yaml key a read of the merged config came from; None for paths, which
    dvc.yaml declares as deps and outs instead."""
    section, _, rest = key.partition(".")
    if section == "paths" or ".paths." in key:
        return None
    if section == "download" and rest.split(".")[0] in DatasetDownload.model_fields:
        return f"datasets.{dataset}.download.{rest}"
    return key


def test_every_stage_ran_and_a_second_repro_runs_nothing(pipeline) -> None:
    repo, audits, first, second = pipeline
    names = set(stages(repo))
    assert {n.split(":")[-1] for n in stages_run(first)} == names == set(audits)
    assert all(a["exit"] in (0, None) for a in audits.values())
    assert stages_run(second) == [] and "up to date" in run(["dvc", "status"], repo).stdout


@pytest.mark.parametrize("stage", sorted(
    f"{s}@{d}" for s in ("download", "extract_faces", "embed", "validate", "split",
                         "write_tfrecords")
    for d in (STARS, PUBLIC)) + ["augment", "train", "evaluate", "calibrate", "report",
                                 "pretrain", "compare"])
def test_stage_reads_only_what_it_declares(pipeline, shared_datasets: Path, stage: str) -> None:
    repo, audits, _, _ = pipeline
    declared, audit = stages(repo)[stage], audits[stage]
    repo, shared = repo.resolve(), shared_datasets.resolve()
    allowed = [repo / p for p in ALLOWED]
    inputs = declared["deps"] + declared["persist"] + allowed + [repo / "params.yaml"]
    touched = [p for p in map(Path, audit["reads"]) if not p.is_dir()] + [
        d for d in map(Path, audit["listed"])  # listing a parent of an input shows no content
        if not any(d in p.parents for p in declared["deps"] + declared["outs"])]
    watched = [p for p in touched if (repo in p.parents or shared in p.parents or p == shared)
               and p.exists()  # probes for files that are not there read nothing
               and "__pycache__" not in p.parts]  # compiled imports: checked as modules below
    undeclared = sorted(str(p) for p in watched if not covered(p, inputs))
    assert undeclared == [], f"{stage} reads files dvc.yaml does not list as its deps"
    if repo / "params.yaml" in touched:
        assert declared["params"], f"{stage} reads params.yaml but declares no params"

    imported = [module_file(m) for m in audit["modules"]]
    modules = sorted(str(f) for f in imported if not covered(
        repo / f.relative_to(REPO_ROOT), declared["deps"]))
    assert modules == [], f"{stage} imports src/ files dvc.yaml does not list as its deps"

    dataset = stage.partition("@")[2] or STARS
    keys = {param_key(k, dataset) for k in audit["params"]} - {None}
    unlisted = sorted(k for k in keys if not any(
        k == p or k.startswith(p + ".") for p in [*declared["params"], *ALLOWED_PARAMS]))
    assert unlisted == [], f"{stage} reads params dvc.yaml does not list"


def test_a_run_on_a_clean_checkout_is_not_dirty_and_tells_its_story(pipeline) -> None:
    """The repo was committed, then `dvc repro` ran: no tracked file changed before train
    tagged its run (generated files are DVC outputs, not git's; dvc.lock aside)."""
    repo, *_ = pipeline
    run_json = json.loads((repo / "models/run.json").read_text())
    client = MlflowClient(run_json["tracking_uri"])
    run = client.get_run(run_json["run_id"])
    commit = run.data.tags["git.commit"]
    assert run.data.tags["git.dirty"] == "False"
    assert run.data.tags["mlflow.runName"] == f"train embedding_head @ {commit[:7]}"
    assert "model/acc" in run.data.tags["mlflow.note.content"]
    assert not any(k.startswith(("augment.", "predict.", "pretrain.")) for k in run.data.params)
    model = client.get_logged_model(run_json["model_id"])
    assert model.source_run_id == run.info.run_id
    assert {"model/test/accuracy", "eigenfaces/test/accuracy"} <= {m.key for m in model.metrics}
    version = client.get_model_version(run_json["registered_model"], run_json["model_version"])
    assert version.tags["git.commit"] == commit and "model/acc" in version.tags
    assert version.description.startswith("# ") and "## Licences" in version.description
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert sorted(m.step for m in history) == list(range(1, len(history) + 1))


def test_dvc_metrics_show_fits_a_terminal(pipeline) -> None:
    repo, *_ = pipeline
    shown = run(["dvc", "metrics", "show"], repo).stdout
    assert "model/acc" in shown and "gate/promoted" in shown
    assert max(map(len, shown.splitlines())) < 200, shown


def test_stage_leaves_only_declared_outputs(pipeline) -> None:
    repo, audits, _, _ = pipeline
    repo = repo.resolve()
    for name, declared in stages(repo).items():
        left = [Path(p) for p in audits[name]["writes"] if Path(p).is_file()
                and repo in Path(p).parents]
        stray = sorted(str(p) for p in left
                       if not covered(p, declared["outs"] + [repo / CACHE]))
        assert stray == [], f"{name} leaves files that are not its declared outputs"
