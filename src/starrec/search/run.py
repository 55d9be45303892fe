"""`starrec search`: draw the trials, run them as queued DVC experiments of the train stage,
each an MLflow child run under one parent run, and rank them.

The trials' stage runs in DVC's temporary workspaces, so it is handed the tracking store as an
absolute URI and the parent run's id (`PARENT_ENV`, which `starrec.tracking.run_tags` turns
into the `mlflow.parentRunId` tag) through the queue workers' environment.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import mlflow
import pandas as pd

from starrec.config import Config
from starrec.io import atomic_path
from starrec.search.dvc_queue import QueueError, queue_trials, run_queue
from starrec.search.results import child_runs, plot_scores, rank
from starrec.search.space import draw, unknown_params
from starrec.tracking import PARENT_ENV, connect, flatten_params

log = logging.getLogger(__name__)
RANKED_CSV, RANKED_MD, SCORES_PNG = "ranked.csv", "ranked.md", "scores.png"


def absolute_uri(uri: str, root: Path) -> str:
    """A relative sqlite or file store made absolute against `root` (other URIs unchanged)."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{(root / uri.removeprefix('sqlite:///')).resolve()}"
    if "://" not in uri:
        return str((root / uri).resolve())
    return uri


def run_search(cfg: Config, repo: Path) -> pd.DataFrame:
    """Run `cfg.search` in the DVC repo `repo`; writes the ranked table (csv, markdown) and the
    scores chart into `paths.reports/search`, logs them to the parent run, returns the table."""
    s, out = cfg.search, cfg.paths.reports / "search"
    unknown = unknown_params(s.space, cfg.model_dump(mode="json", by_alias=True))
    if unknown:
        raise QueueError(f"search.space: no such params {unknown}")
    uri = absolute_uri(connect(cfg.mlflow), repo)
    trials = draw(s.space, s.trials, s.seed)
    with mlflow.start_run(run_name=f"search {s.target}: {s.trials} trials") as parent:
        parent_id = parent.info.run_id
        mlflow.log_params(flatten_params({"search": s.model_dump(mode="json")}))
        names = queue_trials(repo, s.target, trials, f"search-{parent_id[:6]}")
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, PARENT_ENV: parent_id}
        states = run_queue(repo, names, s.jobs, env)
        failed = [n for n, state in states.items() if state != "Success"]
        if failed:
            log.warning("%d trials did not succeed (%s); their logs: dvc queue logs NAME",
                        len(failed), ", ".join(failed))
        table = rank(child_runs(parent_id, parent.info.experiment_id), list(s.space), s.score,
                     s.maximize)
        if table.empty:
            log.error("no trial finished: nothing to rank")
            return table
        write_reports(table, cfg, out)
        mlflow.log_artifacts(str(out), "search")
        best = table.iloc[0]
        mlflow.log_metric(f"best_trial/{s.score}", float(best[s.score]))
        mlflow.set_tag("best_experiment", str(best["experiment"]))
    log.info("best: %s (%s %.4g); apply it with: dvc exp apply %s && dvc repro",
             best["experiment"], s.score, best[s.score], best["experiment"])
    return table


def write_reports(table: pd.DataFrame, cfg: Config, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / RANKED_CSV) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / RANKED_MD) as tmp:
        tmp.write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")
    plot_scores(table, cfg.search.space, cfg.search.score, out / SCORES_PNG)
