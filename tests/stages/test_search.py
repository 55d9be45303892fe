"""`starrec search` for real: 3 trials of the train stage (embedding head on SFace embeddings
of real LFW photos) queued as DVC experiments in a temp git + DVC repo, each an MLflow child
run of one parent run; the ranked table holds the drawn log-uniform values; the best trial
comes back with `dvc exp apply`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from helpers.dvc_repo import make_repo, run
from helpers.embeddings import make_embeddings
from helpers.params import stage_config
from helpers.paths import REPO_ROOT
from mlflow.tracking import MlflowClient

from starrec.config import load_config
from starrec.search.space import draw

PEOPLE = ["Colin_Powell", "George_W_Bush", "Tony_Blair"]
SPACE = {"train.embedding_head.learning_rate": {"low": 0.001, "high": 0.1, "scale": "log"},
         "train.embedding_head.l2": {"low": 1e-6, "high": 1e-2, "scale": "log"},
         "train.embedding_head.dropout": {"low": 0.05, "high": 0.5, "scale": "log"}}


def test_search_queues_trials_as_child_runs_and_ranks_them(tmp_path, shared_datasets) -> None:
    # the real train stage; its upstream outputs (split + embeddings) are given, in git
    train_only = {"stages": {"train": yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
                             ["stages"]["train"]}}
    root = make_repo(tmp_path / "repo", {
        "train": {"model": "embedding_head", "embedding_head": {"epochs": 5}},
        "search": {"trials": 3, "jobs": 2, "seed": 11, "space": SPACE}},
        files={"dvc.yaml": yaml.safe_dump(train_only, sort_keys=False)})
    make_embeddings(stage_config(root), shared_datasets / "lfw-subset", PEOPLE, 10)
    for empty in ("data/tfrecords", "data/augmented"):  # image models' inputs, unread here
        (root / empty).mkdir(parents=True)
        (root / empty / ".keep").write_text("")
    (root / "research/dvc.yaml").unlink()  # its outputs never exist here: exp apply skips them
    run(["git", "add", "-A"], root)
    run(["git", "add", "-f", "data"], root)
    run(["git", "commit", "-qm", "embeddings"], root)

    proc = run(["python", "-m", "starrec.cli", "search"], root)
    assert "search-" in proc.stdout, proc.stdout + proc.stderr

    table = pd.read_csv(root / "reports/search/ranked.csv")
    assert len(table) == 3 and list(table["rank"]) == [1, 2, 3]
    assert table["best_val_loss"].is_monotonic_increasing
    space = load_config(root / "params.yaml").search.space  # SPACE + params.yaml's optimizer
    drawn = draw(space, 3, seed=11)
    assert sorted(table[list(space)].to_dict("records"), key=str) == sorted(drawn, key=str)
    for name, dim in SPACE.items():
        assert table[name].between(dim["low"], dim["high"]).all()
    assert (root / "reports/search/scores.png").read_bytes()[:4] == b"\x89PNG"
    assert (root / "reports/search/ranked.md").read_text().count("search-") == 3

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("starrec")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.tags["dvc.exp_name"] for c in children} == set(table["experiment"])
    assert set(table["run_id"]) == {c.info.run_id for c in children}
    assert parent.data.tags["best_experiment"] == table["experiment"][0]
    assert parent.data.metrics["best_trial/best_val_loss"] == pytest.approx(
        table["best_val_loss"][0])

    # the best trial into the workspace: its params and its trained model
    best = table.iloc[0]
    run(["dvc", "exp", "apply", best["experiment"]], root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["train"]["embedding_head"]["learning_rate"] == best[list(SPACE)[0]]
    assert json.loads((root / "models/run.json").read_text())["run_id"] == best["run_id"]
