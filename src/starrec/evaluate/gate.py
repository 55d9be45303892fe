"""Promotion gate: the `champion` alias moves to a new model version only when it beats both
the current champion and the eigenfaces baseline, so a regression never ships by accident.

`decide` is the pure rule; `apply_gate` does the MLflow registry reads and writes around it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from starrec.config import GateParams

log = logging.getLogger(__name__)

CHAMPION = "champion"


@dataclass(frozen=True)
class GateDecision:
    metric: str
    margin: float
    candidate: float
    baseline: float
    champion: float | None  # None: no champion yet (that side passes)
    beats_baseline: bool
    beats_champion: bool
    promoted: bool
    reason: str


def decide(metric: str, margin: float, candidate: float, baseline: float,
           champion: float | None) -> GateDecision:
    """Promote iff candidate > baseline + margin and candidate > champion + margin (ties refuse)."""
    beats_baseline = candidate > baseline + margin
    beats_champion = champion is None or candidate > champion + margin
    sides = [f"baseline {baseline:.4f}: {'beats' if beats_baseline else 'does not beat'}",
             "no champion yet" if champion is None else
             f"champion {champion:.4f}: {'beats' if beats_champion else 'does not beat'}"]
    promoted = beats_baseline and beats_champion
    reason = (f"{'promoted' if promoted else 'refused'}: {metric} {candidate:.4f} vs "
              f"{'; '.join(sides)} (margin {margin:g})")
    return GateDecision(metric, margin, candidate, baseline, champion, beats_baseline,
                        beats_champion, promoted, reason)


def champion_score(client: MlflowClient, model_name: str, metric: str
                   ) -> tuple[str | None, float | None]:
    """(version, its run's `test_<metric>`) of the current champion, or (None, None)."""
    try:
        aliases = client.get_registered_model(model_name).aliases
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None, None
    if CHAMPION not in aliases:
        return None, None
    version = client.get_model_version(model_name, aliases[CHAMPION])
    if not version.run_id:
        log.warning("%s v%s has no run; treating as no champion score", model_name,
                    version.version)
        return str(version.version), None
    score = client.get_run(version.run_id).data.metrics.get(f"test_{metric}")
    if score is None:
        log.warning("%s v%s: its run has no test_%s; treating as no champion score",
                    model_name, version.version, metric)
    return str(version.version), score


def apply_gate(client: MlflowClient, cfg: GateParams, model_name: str,
               candidate_version: str | None, run_id: str, candidate: float,
               baseline: float) -> dict[str, Any]:
    """Decide, move the alias when promoted, log the decision to the run; returns the
    report section (numbers, flags, reason, versions)."""
    champ_version, champ_score = champion_score(client, model_name, cfg.metric)
    if champ_version is not None and champ_version == str(candidate_version):
        log.info("%s v%s is already the champion; judging it against the baseline only",
                 model_name, candidate_version)
        champ_score = None
    decision = decide(cfg.metric, cfg.margin, candidate, baseline, champ_score)
    moved = decision.promoted and candidate_version is not None
    if moved:
        client.set_registered_model_alias(model_name, CHAMPION, str(candidate_version))
    if candidate_version is not None:
        client.set_model_version_tag(model_name, str(candidate_version), "gate",
                                     "promoted" if decision.promoted else "refused")
    else:
        log.warning("run %s has no registered model version; alias %r not touched",
                    run_id, CHAMPION)
    log.info("gate %s", decision.reason)
    numbers = {"gate_candidate": candidate, "gate_baseline": baseline,
               "gate_promoted": float(decision.promoted)}
    if champ_score is not None:
        numbers["gate_champion"] = champ_score
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in numbers.items()])
    client.set_tag(run_id, "gate.decision", "promoted" if decision.promoted else "refused")
    client.set_tag(run_id, "gate.reason", decision.reason)
    report = asdict(decision)
    report.update(candidate_version=candidate_version, champion_version=champ_version,
                  alias_moved=moved)
    return report
