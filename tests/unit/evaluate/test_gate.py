"""The promotion gate: the pure rule, the recorded champion (models/champion.json) it reads
and rewrites, and the registry alias that mirrors it in a real sqlite MLflow store."""

import json
from pathlib import Path

import pytest
from helpers.params import section
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.evaluate.gate import GATE_METRICS, decide, judge, read_champion, record, write_champion
from starrec.stage import StageError


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


def scores(accuracy: float) -> dict[str, float]:
    return {m: accuracy for m in GATE_METRICS}


def run(run_id: str, version: int | None, model: str = "m") -> dict:
    return {"run_id": run_id, "registered_model": model, "model_version": version}


def test_judge_against_the_recorded_champion() -> None:
    cfg = section("evaluate", gate={"metric": "accuracy", "margin": 0.01}).gate
    report, champion = judge(cfg, None, run("r1", 1), scores(0.80), scores(0.70))
    assert report["promoted"] and report["alias_moved"] and report["champion"] is None
    assert champion == {"registered_model": "m", "version": "1", "run_id": "r1",
                        "metrics": scores(0.80)}

    report, kept = judge(cfg, champion, run("r2", 2), scores(0.805), scores(0.70))
    assert not report["promoted"] and report["champion"] == 0.80  # not by the margin
    assert report["champion_version"] == "1" and kept == champion

    report, kept = judge(cfg, champion, run("r3", 3), scores(0.90), scores(0.95))
    assert not report["promoted"] and report["beats_champion"] and kept == champion

    report, new = judge(cfg, champion, run("r4", 4), scores(0.90), scores(0.85))
    assert report["promoted"] and new["version"] == "4" and new["run_id"] == "r4"

    # the champion evaluated again (an evaluate-only change) is judged against the baseline
    report, same = judge(cfg, new, run("r4", 4), scores(0.90), scores(0.85))
    assert report["promoted"] and report["champion"] is None and same == new
    assert report["champion_version"] == report["candidate_version"] == "4"

    # a champion of another registered model does not count; no version, no new champion
    report, _ = judge(cfg, new, run("r5", 5, model="other"), scores(0.5), scores(0.4))
    assert report["promoted"] and report["champion"] is None
    report, unchanged = judge(cfg, new, run("r6", None), scores(0.99), scores(0.4))
    assert report["promoted"] and not report["alias_moved"] and unchanged == new


def test_champion_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "champion.json"
    assert read_champion(path) is None
    write_champion(path, None)
    assert json.loads(path.read_text()) == {} and read_champion(path) is None
    champion = {"registered_model": "m", "version": "2", "run_id": "r", "metrics": scores(0.9)}
    write_champion(path, champion)
    assert read_champion(path) == champion
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
    report, champion = judge(cfg, None, run(run1, int(v1)), scores(0.8), scores(0.7))
    record(client, report, run(run1, int(v1)), champion, "champion")
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1
    assert client.get_model_version("m", v1).tags["gate"] == "promoted"
    logged = client.get_run(run1).data
    assert logged.tags["gate.decision"] == "promoted" and logged.metrics["gate/promoted"] == 1.0

    run2, v2 = _register(client)
    report, kept = judge(cfg, champion, run(run2, int(v2)), scores(0.75), scores(0.7))
    record(client, report, run(run2, int(v2)), kept, "champion")
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1
    logged = client.get_run(run2).data
    assert logged.tags["gate.decision"] == "refused" and logged.metrics["gate/champion"] == 0.8

    # a champion recorded elsewhere (another clone's registry) leaves the alias alone
    stranger = {**kept, "version": "99", "run_id": "elsewhere"}
    record(client, report, run(run2, int(v2)), stranger, "champion")
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1
