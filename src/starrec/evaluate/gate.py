"""Promotion gate: the promoted alias (`predict.alias`) moves to a new model version only when
it beats both the current champion and the eigenfaces baseline, so a regression never ships
by accident.

The champion is the one recorded in `models/champion.json` (registered version, run id, test
metrics and the task they were measured on: the class list and a fingerprint of the test
split): a file in git that the evaluate stage reads and rewrites (a DVC `persist` output), so
the gate's input is versioned with the code and data instead of hidden in the registry; the
registry alias mirrors it. Two test scores are comparable only on the same task, so a
champion of another class set or test split, or one this registry does not hold (a fresh
clone), does not count: the candidate is judged against the baseline alone, and the reason
says why. `decide` is the pure rule, `judge` applies it to the recorded champion, `record`
writes the outcome to MLflow.

Clean and degraded: the candidate must beat the baseline on the clean test faces (eigenfaces
is no contender on degraded ones), and the champion on the clean metric or on the degraded
one (`gate.metric`'s mean over the robustness severities, evaluate/robustness.py) while not
worse on the other by more than `margin`. Clean accuracy on a few stars saturates near 1, so
models mostly differ on degraded faces: clean alone would refuse a model that is as good on
clean faces and better on blurred, small or masked ones, and degraded alone would ship one
that bought robustness with clean accuracy. The degraded scores count only when the champion
recorded them at the same severities and seed; otherwise (an old record) clean alone decides.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from starrec.config import GateMetric, GateParams
from starrec.errors import StageError
from starrec.io import write_json_atomic

log = logging.getLogger(__name__)

GATE_METRICS: tuple[str, ...] = get_args(GateMetric)
CHAMPION_KEYS = ("registered_model", "version", "run_id", "metrics", "task", "degraded")
OPTIONAL_KEYS = {"task", "degraded"}  # records from before either was kept lack them


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
    candidate_degraded: float | None = None  # None: not measured
    champion_degraded: float | None = None  # None: the champion has no comparable one


def decide(metric: str, margin: float, candidate: float, baseline: float,
           champion: float | None, no_champion: str = "no champion yet",
           candidate_degraded: float | None = None, champion_degraded: float | None = None
           ) -> GateDecision:
    """Promote iff candidate > baseline + margin and it beats the champion: candidate >
    champion + margin, or, when both have a degraded score, one of clean and degraded better
    by more than the margin and the other not worse by more than it (ties refuse);
    `no_champion` says why there is none to beat."""
    beats_baseline = candidate > baseline + margin
    both = champion is not None and None not in (candidate_degraded, champion_degraded)
    if champion is None:
        beats_champion = True
    elif both:
        clean, worse = candidate - champion, candidate_degraded - champion_degraded
        beats_champion = ((clean > margin and worse >= -margin)
                          or (worse > margin and clean >= -margin))
    else:
        beats_champion = candidate > champion + margin
    verdict = "beats" if beats_champion else "does not beat"
    sides = [f"baseline {baseline:.4f}: {'beats' if beats_baseline else 'does not beat'}",
             no_champion if champion is None else
             f"champion {champion:.4f}, degraded {candidate_degraded:.4f} vs "
             f"{champion_degraded:.4f}: {verdict}" if both else
             f"champion {champion:.4f}: {verdict}"]
    promoted = beats_baseline and beats_champion
    reason = (f"{'promoted' if promoted else 'refused'}: {metric} {candidate:.4f} vs "
              f"{'; '.join(sides)} (margin {margin:g})")
    return GateDecision(metric, margin, candidate, baseline, champion, beats_baseline,
                        beats_champion, promoted, reason, candidate_degraded,
                        champion_degraded if both else None)


def read_champion(path: Path) -> dict[str, Any] | None:
    """The recorded champion, or None when there is none yet (no file, or `{}`)."""
    if not path.is_file():
        return None
    try:
        champion = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StageError(f"{path}: cannot read the champion ({exc})") from exc
    if not champion:
        return None
    # a record from before the task was kept has no "task": it is comparable with nothing
    if (not isinstance(champion, dict)
            or set(champion) - OPTIONAL_KEYS != set(CHAMPION_KEYS) - OPTIONAL_KEYS):
        raise StageError(f"{path}: not a champion record (keys {', '.join(CHAMPION_KEYS)})")
    return champion


def task_of(classes: list[str], face_ids: np.ndarray, labels: np.ndarray,
              images: np.ndarray) -> dict[str, Any]:
    """What makes two test scores comparable: the class list and a fingerprint (sha256) of
    the test split's face ids, labels and pixels."""
    digest = hashlib.sha256()
    for face_id, label in zip(face_ids, labels, strict=True):
        digest.update(f"{face_id}\t{int(label)}\n".encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return {"classes": list(classes), "test_split": digest.hexdigest(), "test_faces": len(labels)}


def other_task(champion: dict[str, Any], task: dict[str, Any]) -> str | None:
    """Why the recorded champion's scores cannot be compared with a candidate's on `task`
    (None: same task)."""
    theirs = champion.get("task")
    if theirs is None:
        return "the recorded champion does not say which data set it was tested on"
    if theirs["classes"] != task["classes"]:
        mine, other = set(task["classes"]), set(theirs["classes"])
        shared = len(mine & other)
        return (f"the recorded champion is for {len(other)} other classes" if not shared else
                f"the recorded champion is for another class set ({len(other)} classes, "
                f"{shared} shared)")
    if theirs["test_split"] != task["test_split"]:
        return (f"the recorded champion was tested on another test split "
                f"({theirs.get('test_faces', '?')} faces, this one {task['test_faces']})")
    return None


def registered_champion(client: MlflowClient, champion: dict[str, Any] | None
                        ) -> dict[str, Any] | None:
    """The recorded champion if this registry holds its version (same run), else None, saying
    so: a fresh clone's registry does not hold the versions git's record names."""
    if champion is None or _in_registry(client, champion):
        return champion
    log.warning("%s v%s (run %s), the recorded champion, is not in the registry %s; treating "
                "it as absent", champion["registered_model"], champion["version"],
                champion["run_id"], client.tracking_uri)
    return None


def _in_registry(client: MlflowClient, champion: dict[str, Any]) -> bool:
    try:
        found = client.get_model_version(champion["registered_model"], champion["version"])
    except MlflowException:
        return False
    return found.run_id == champion["run_id"]


def write_champion(path: Path, champion: dict[str, Any] | None) -> None:
    write_json_atomic(path, champion or {})


def judge(cfg: GateParams, champion: dict[str, Any] | None, run: dict[str, Any],
          candidate: dict[str, float], baseline: dict[str, float], task: dict[str, Any],
          degraded: dict[str, Any] | None = None, absent: str | None = None
          ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The gate report for the candidate of `run` (run.json) with test metrics `candidate`
    on `task` (`task_of`) against `baseline` and the recorded `champion` (None: none in
    this registry), and the champion afterwards. `degraded` is the candidate's degraded
    score ({severities, seed, metrics}; None: not measured); `absent` says why the caller
    has no champion to pass (not in this registry). A champion of another task is
    kept when the candidate is refused (the data set may be switched back), replaced when it
    is promoted."""
    version = None if run.get("model_version") is None else str(run["model_version"])
    model = run["registered_model"]
    recorded, no_champion = champion, absent or "no champion yet"
    if champion is not None and champion["registered_model"] != model:
        log.info("the recorded champion is a %s version; %s has none yet",
                 champion["registered_model"], model)
        champion = None
    elif champion is not None and (why := other_task(champion, task)) is not None:
        no_champion = f"first model for this data set: {why}"
        log.info("gate: %s", no_champion)
        champion = None
    previous = None if champion is None else champion["version"]
    score = None if champion is None else champion["metrics"].get(cfg.metric)
    if champion is not None and champion["run_id"] == run["run_id"]:
        log.info("%s v%s is already the champion; judging it against the baseline only",
                 model, version)
        score = None
    elif champion is not None and score is None:
        log.warning("the recorded champion has no test %s; treating as no champion score",
                    cfg.metric)
    decision = decide(cfg.metric, cfg.margin, candidate[cfg.metric], baseline[cfg.metric], score,
                      no_champion, _degraded(degraded, cfg.metric),
                      None if score is None else _comparable(champion, degraded, cfg.metric))
    moved = decision.promoted and version is not None
    if decision.promoted and version is None:
        log.warning("run %s has no registered model version; the champion stays", run["run_id"])
    champion = recorded
    if moved:
        champion = {"registered_model": model, "version": version, "run_id": run["run_id"],
                    "metrics": {m: candidate[m] for m in GATE_METRICS}, "task": task}
        if degraded is not None:
            champion["degraded"] = degraded
    log.info("gate %s", decision.reason)
    report = asdict(decision)
    report.update(candidate_version=version, champion_version=previous, alias_moved=moved)
    return report, champion


def _degraded(degraded: dict[str, Any] | None, metric: str) -> float | None:
    return None if degraded is None else degraded["metrics"].get(metric)


def _comparable(champion: dict[str, Any], degraded: dict[str, Any] | None, metric: str
                ) -> float | None:
    """The champion's degraded score when measured as the candidate's was (same severities
    and seed), else None: clean alone decides."""
    theirs = champion.get("degraded")
    if degraded is None or theirs is None:
        return None
    if (theirs["severities"], theirs["seed"]) != (degraded["severities"], degraded["seed"]):
        log.info("gate: the champion's degraded scores are of other severities or seed; "
                 "clean alone decides")
        return None
    return _degraded(theirs, metric)


def record(client: MlflowClient, report: dict[str, Any], run: dict[str, Any],
           champion: dict[str, Any] | None, alias: str) -> None:
    """The decision as metrics, tags and a model-version tag of the run; the registry's
    `alias` set to the recorded champion's version (when this registry has it)."""
    model, version = run["registered_model"], report["candidate_version"]
    promoted = report["promoted"]
    if version is not None:
        client.set_model_version_tag(model, version, "gate", "promoted" if promoted else "refused")
    if champion is not None and champion["registered_model"] == model:
        _mirror(client, champion, alias)
    numbers = {"gate/candidate": report["candidate"], "gate/baseline": report["baseline"],
               "gate/promoted": float(promoted)}
    if report["champion"] is not None:
        numbers["gate/champion"] = report["champion"]
    for side in ("candidate", "champion"):
        if report.get(f"{side}_degraded") is not None:
            numbers[f"gate/{side}_degraded"] = report[f"{side}_degraded"]
    now = int(time.time() * 1000)
    client.log_batch(run["run_id"], metrics=[Metric(k, float(v), now, 0)
                                             for k, v in numbers.items()])
    client.set_tag(run["run_id"], "gate.decision", "promoted" if promoted else "refused")
    client.set_tag(run["run_id"], "gate.reason", report["reason"])


def _mirror(client: MlflowClient, champion: dict[str, Any], alias: str) -> None:
    model, version = champion["registered_model"], champion["version"]
    if not _in_registry(client, champion):
        log.warning("%s v%s (run %s), the recorded champion, is not in this registry; alias "
                    "%r not set", model, version, champion["run_id"], alias)
        return
    client.set_registered_model_alias(model, alias, version)
