"""The promotion gate: the pure rule, the recorded champion (models/champion.json) it reads
and rewrites, and the registry alias that mirrors it in a real sqlite MLflow store."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.params import section
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.errors import StageError
from starrec.evaluate.gate import (
    GATE_METRICS,
    decide,
    judge,
    read_champion,
    record,
    registered_champion,
    task_of,
    write_champion,
)


@pytest.mark.parametrize(
    ("candidate", "baseline", "champion", "margin", "promoted", "beats_b", "beats_c"),
    [
        (0.95, 0.90, 0.93, 0.0, True, True, True),     # better than both
        (0.95, 0.90, None, 0.0, True, True, True),     # first run: no champion
        (0.92, 0.93, None, 0.0, False, False, True),   # first run, loses to baseline
        (0.92, 0.90, 0.94, 0.0, False, True, False),   # loses to champion
        (0.89, 0.90, 0.94, 0.0, False, False, False),  # loses to both
        (0.93, 0.93, None, 0.0, False, False, True),   # a tie is not a win
        (0.95, 0.90, 0.94, 0.02, False, True, False),  # wins, but not by the margin
        (0.97, 0.90, 0.94, 0.02, True, True, True),    # wins by more than the margin
    ],
)
def test_decide(candidate, baseline, champion, margin, promoted, beats_b, beats_c) -> None:
    d = decide("macro_f1", margin, candidate, baseline, champion)
    assert (d.promoted, d.beats_baseline, d.beats_champion) == (promoted, beats_b, beats_c)
    assert d.reason.startswith("promoted" if promoted else "refused")
    assert "macro_f1" in d.reason


@pytest.mark.parametrize(
    ("clean", "degraded", "champion", "champion_degraded", "margin", "beats_c"),
    [
        (0.95, 0.80, 0.95, 0.70, 0.0, True),    # as good clean, better degraded
        (0.96, 0.70, 0.95, 0.70, 0.0, True),    # better clean, as good degraded
        (0.96, 0.60, 0.95, 0.70, 0.0, False),   # better clean bought with robustness
        (0.94, 0.90, 0.95, 0.70, 0.0, False),   # better degraded bought with clean
        (0.94, 0.90, 0.95, 0.70, 0.02, True),   # ... by less than the margin
        (0.95, 0.70, 0.95, 0.70, 0.0, False),   # a tie on both is not a win
        (0.96, 0.71, 0.95, 0.70, 0.02, False),  # better on both, neither by the margin
        (0.95, 0.80, 0.95, None, 0.0, False),   # no degraded champion score: clean decides
    ],
)
def test_decide_on_clean_and_degraded(clean, degraded, champion, champion_degraded, margin,
                                      beats_c) -> None:
    d = decide("accuracy", margin, clean, 0.5, champion, candidate_degraded=degraded,
               champion_degraded=champion_degraded)
    assert (d.beats_champion, d.promoted) == (beats_c, beats_c)
    assert ("degraded" in d.reason) == (champion_degraded is not None)
    # the baseline is met on clean faces only: a candidate below it is refused whatever else
    assert not decide("accuracy", margin, clean, 0.99, champion, candidate_degraded=1.0,
                      champion_degraded=champion_degraded).promoted


def scores(accuracy: float) -> dict[str, float]:
    return {m: accuracy for m in GATE_METRICS}


def run(run_id: str, version: int | None, model: str = "m") -> dict:
    return {"run_id": run_id, "registered_model": model, "model_version": version}


def task(classes: tuple[str, ...] = ("a", "b"), ids: tuple[str, ...] = ("a/1", "b/1"),
         pixels: int = 0) -> dict:
    return task_of(list(classes), np.array(ids), np.arange(len(ids)),
                   np.full((len(ids), 2, 2, 3), pixels, np.uint8))


TASK = task()


def test_judge_against_the_recorded_champion() -> None:
    cfg = section("evaluate", gate={"metric": "accuracy", "margin": 0.01}).gate
    report, champion = judge(cfg, None, run("r1", 1), scores(0.80), scores(0.70), TASK)
    assert report["promoted"] and report["alias_moved"] and report["champion"] is None
    assert champion == {"registered_model": "m", "version": "1", "run_id": "r1",
                        "metrics": scores(0.80), "task": TASK}

    report, kept = judge(cfg, champion, run("r2", 2), scores(0.805), scores(0.70), TASK)
    assert not report["promoted"] and report["champion"] == 0.80  # not by the margin
    assert report["champion_version"] == "1" and kept == champion

    report, kept = judge(cfg, champion, run("r3", 3), scores(0.90), scores(0.95), TASK)
    assert not report["promoted"] and report["beats_champion"] and kept == champion

    report, new = judge(cfg, champion, run("r4", 4), scores(0.90), scores(0.85), TASK)
    assert report["promoted"] and new["version"] == "4" and new["run_id"] == "r4"

    # the champion evaluated again (an evaluate-only change) is judged against the baseline
    report, same = judge(cfg, new, run("r4", 4), scores(0.90), scores(0.85), TASK)
    assert report["promoted"] and report["champion"] is None and same == new
    assert report["champion_version"] == report["candidate_version"] == "4"

    # a champion of another registered model does not count; no version, no new champion
    report, _ = judge(cfg, new, run("r5", 5, model="other"), scores(0.5), scores(0.4), TASK)
    assert report["promoted"] and report["champion"] is None
    report, unchanged = judge(cfg, new, run("r6", None), scores(0.99), scores(0.4), TASK)
    assert report["promoted"] and not report["alias_moved"] and unchanged == new


def test_a_champion_of_another_task_is_not_compared() -> None:
    """A perfect champion of another class set, test split or an old record without a task
    does not block a candidate: it is judged against the baseline alone, saying why."""
    cfg = section("evaluate", gate={"metric": "macro_f1", "margin": 0.0}).gate
    lfw7 = {"registered_model": "m", "version": "1", "run_id": "r1", "metrics": scores(1.0),
            "task": task(classes=tuple("abcdefg"), ids=tuple(f"{c}/1" for c in "abcdefg"))}
    report, new = judge(cfg, lfw7, run("r2", 2), scores(0.98), scores(0.5), task(("x", "y")))
    assert report["promoted"] and report["champion"] is None and new["run_id"] == "r2"
    assert ("first model for this data set: the recorded champion is for 7 other classes"
            in report["reason"])
    assert new["task"] == task(("x", "y"))

    shared = {**lfw7, "task": task(classes=("a", "z"))}
    report, _ = judge(cfg, shared, run("r2", 2), scores(0.98), scores(0.5), TASK)
    assert "another class set (2 classes, 1 shared)" in report["reason"]

    moved = {**lfw7, "task": task(pixels=7)}  # same classes, other test faces
    report, _ = judge(cfg, moved, run("r2", 2), scores(0.98), scores(0.5), TASK)
    assert report["promoted"] and "another test split" in report["reason"]

    old = {k: v for k, v in lfw7.items() if k != "task"}
    report, _ = judge(cfg, old, run("r2", 2), scores(0.98), scores(0.5), TASK)
    assert report["promoted"] and "does not say which data set" in report["reason"]

    # refused against the baseline: the other task's champion is kept (switching back)
    report, kept = judge(cfg, lfw7, run("r2", 2), scores(0.4), scores(0.5), task(("x", "y")))
    assert not report["promoted"] and kept == lfw7

    # the same task: compared as before, ties refuse
    same = {**lfw7, "task": TASK}
    report, kept = judge(cfg, same, run("r2", 2), scores(1.0), scores(0.5), TASK)
    assert not report["promoted"] and report["champion"] == 1.0 and kept == same


def degraded(accuracy: float, seed: int = 42) -> dict:
    return {"severities": ["clean", "px16"], "seed": seed, "metrics": scores(accuracy)}


def test_judge_compares_degraded_scores_recorded_alike() -> None:
    """A promoted candidate's degraded scores go into the record; the next candidate is
    compared on them when measured at the same severities and seed, and an old record
    without them is judged on clean alone."""
    cfg = section("evaluate", gate={"metric": "accuracy", "margin": 0.0}).gate
    _, champion = judge(cfg, None, run("r1", 1), scores(0.95), scores(0.7), TASK, degraded(0.6))
    assert champion["degraded"] == degraded(0.6)

    report, new = judge(cfg, champion, run("r2", 2), scores(0.95), scores(0.7), TASK,
                        degraded(0.8))
    assert report["promoted"] and report["champion_degraded"] == 0.6
    assert report["candidate_degraded"] == 0.8 and new["degraded"] == degraded(0.8)

    # another seed, or a record from before degraded scores: clean alone, a tie refuses
    for other in ({**champion, "degraded": degraded(0.6, seed=1)},
                  {k: v for k, v in champion.items() if k != "degraded"}):
        report, kept = judge(cfg, other, run("r2", 2), scores(0.95), scores(0.7), TASK,
                             degraded(0.8))
        assert not report["promoted"] and report["champion_degraded"] is None and kept == other


def test_task_fingerprint_sees_ids_labels_and_pixels() -> None:
    base = task()
    assert base == task() and base["test_faces"] == 2
    assert task(ids=("a/1", "b/2"))["test_split"] != base["test_split"]
    assert task(pixels=1)["test_split"] != base["test_split"]


def test_champion_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "champion.json"
    assert read_champion(path) is None
    write_champion(path, None)
    assert json.loads(path.read_text()) == {} and read_champion(path) is None
    champion = {"registered_model": "m", "version": "2", "run_id": "r", "metrics": scores(0.9),
                "task": TASK}
    write_champion(path, champion)
    assert read_champion(path) == champion
    old = {k: v for k, v in champion.items() if k != "task"}  # before tasks were recorded
    write_champion(path, old)
    assert read_champion(path) == old
    robust = {**champion, "degraded": degraded(0.8)}
    write_champion(path, robust)
    assert read_champion(path) == robust
    path.write_text('{"version": "2"}')
    with pytest.raises(StageError, match="champion.json: not a champion record"):
        read_champion(path)
    path.write_text("{nope")
    with pytest.raises(StageError, match="champion.json: cannot read the champion"):
        read_champion(path)


def _register(client: MlflowClient, name: str = "m") -> tuple[str, str]:
    """A finished run with a registered model version (the registry needs no real model)."""
    run = client.create_run(client.get_experiment_by_name("gate").experiment_id)
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model",
                                          run.info.run_id)
    client.set_terminated(run.info.run_id)
    return run.info.run_id, str(version.version)


def test_record_mirrors_the_champion_into_the_registry(tmp_path: Path) -> None:
    client = MlflowClient(store(tmp_path, "gate").tracking_uri)
    cfg = section("evaluate").gate
    run1, v1 = _register(client)
    report, champion = judge(cfg, None, run(run1, int(v1)), scores(0.8), scores(0.7), TASK)
    record(client, report, run(run1, int(v1)), champion, "champion")
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1
    assert client.get_model_version("m", v1).tags["gate"] == "promoted"
    logged = client.get_run(run1).data
    assert logged.tags["gate.decision"] == "promoted" and logged.metrics["gate/promoted"] == 1.0

    run2, v2 = _register(client)
    report, kept = judge(cfg, champion, run(run2, int(v2)), scores(0.75), scores(0.7), TASK)
    record(client, report, run(run2, int(v2)), kept, "champion")
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1
    logged = client.get_run(run2).data
    assert logged.tags["gate.decision"] == "refused" and logged.metrics["gate/champion"] == 0.8

    # a champion recorded elsewhere (another clone's registry) leaves the alias alone
    stranger = {**kept, "version": "99", "run_id": "elsewhere"}
    record(client, report, run(run2, int(v2)), stranger, "champion")
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1


def test_a_champion_this_registry_lacks_is_absent(tmp_path: Path, caplog) -> None:
    """A fresh clone: git's record names a version the new registry does not hold (or holds
    as another run's); it is treated as absent, with a warning naming the store."""
    client = MlflowClient(store(tmp_path, "gate").tracking_uri)
    run1, v1 = _register(client)
    mine = {"registered_model": "m", "version": v1, "run_id": run1, "metrics": scores(0.9),
            "task": TASK}
    assert registered_champion(client, mine) == mine
    assert registered_champion(client, None) is None
    for stranger in ({**mine, "run_id": "elsewhere"}, {**mine, "version": "99"},
                     {**mine, "registered_model": "nobody"}):
        caplog.clear()
        assert registered_champion(client, stranger) is None
        assert "is not in the registry" in caplog.text and "treating it as absent" in caplog.text


def test_the_reason_says_when_the_record_was_not_in_this_registry() -> None:
    cfg = section("evaluate").gate
    report, _ = judge(cfg, None, run("r1", 1), scores(0.9), scores(0.5), TASK,
                      absent="the recorded champion is not in this registry")
    assert report["promoted"]
    assert "the recorded champion is not in this registry" in report["reason"]
