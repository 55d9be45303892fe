"""The trials' outcome: their MLflow child runs, ranked by the score, as a table and a chart."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402

from starrec.config import SearchChoices, SearchRange  # noqa: E402
from starrec.io import atomic_path  # noqa: E402

EXP_TAG = "dvc.exp_name"


def child_runs(parent_id: str, experiment_id: str) -> pd.DataFrame:
    """The finished runs whose parent is `parent_id`: mlflow.search_runs' columns
    (params.*, metrics.*, tags.*)."""
    return mlflow.search_runs(
        experiment_ids=[experiment_id], output_format="pandas",
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and attributes.status = 'FINISHED'")


def rank(runs: pd.DataFrame, params: list[str], score: str, maximize: bool) -> pd.DataFrame:
    """One row per run, best score first: rank, experiment, the searched params (numbers as
    numbers), score, run id."""
    table = pd.DataFrame({"experiment": runs.get(f"tags.{EXP_TAG}"), "run_id": runs["run_id"]})
    for name in params:
        table[name] = _numbers_if_all(runs[f"params.{name}"])
    table[score] = runs[f"metrics.{score}"].astype(float)
    table = table.sort_values(score, ascending=not maximize, kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table[["rank", "experiment", *params, score, "run_id"]].reset_index(drop=True)


def _numbers_if_all(column: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if numbers.notna().all() else column


def plot_scores(table: pd.DataFrame, space: dict[str, SearchRange | SearchChoices], score: str,
                path: Path) -> None:
    """The score against each searched param, one panel each; log x axes for log ranges, the
    best trial ringed."""
    fig, axes = plt.subplots(1, len(space), figsize=(4 * len(space), 3.6), squeeze=False)
    best = table.iloc[0]
    for ax, (name, dim) in zip(axes[0], space.items()):
        if isinstance(dim, SearchChoices):
            order = [str(c) for c in dim.choices]
            x = [order.index(str(v)) for v in table[name]]
            ax.set_xticks(range(len(order)), order)
            best_x = order.index(str(best[name]))
        else:
            x, best_x = table[name], best[name]
            ax.set_xscale("log" if dim.scale == "log" else "linear")
            ax.set_xlim(dim.low * (0.8 if dim.scale == "log" else 1), dim.high * 1.2)
        ax.scatter(x, table[score], s=30)
        ax.scatter([best_x], [best[score]], s=140, facecolors="none", edgecolors="red",
                   label=f"best: {best['experiment']}")
        ax.set(xlabel=name.rsplit(".", 1)[-1], ylabel=score, title=name)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.suptitle(f"Random search: {len(table)} trials, {score} per hyper-parameter")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
