import mlflow
import pytest
from mlflow.tracking import MlflowClient

from starrec.config import GateParams
from starrec.evaluate.gate import CHAMPION, apply_gate, champion_score, decide


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


class _Identity(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


@pytest.fixture()
def registry(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("gate-test")
    yield MlflowClient(uri)
    mlflow.set_tracking_uri(None)


def _register(accuracy: float) -> tuple[str, str]:
    """A finished run with test_accuracy, its model registered as a new `m` version."""
    with mlflow.start_run() as run:
        mlflow.log_metric("test_accuracy", accuracy)
        info = mlflow.pyfunc.log_model(name="model", python_model=_Identity(),
                                       pip_requirements=[], registered_model_name="m")
    return run.info.run_id, str(info.registered_model_version)


def test_gate_moves_and_keeps_alias_in_real_registry(registry: MlflowClient) -> None:
    cfg = GateParams(metric="accuracy", margin=0.01)
    assert champion_score(registry, "m", "accuracy") == (None, None)

    run1, v1 = _register(0.80)  # first run: beats the baseline, no champion yet
    report = apply_gate(registry, cfg, "m", v1, run1, candidate=0.80, baseline=0.70)
    assert report["promoted"] and report["alias_moved"] and report["champion"] is None
    assert str(registry.get_model_version_by_alias("m", CHAMPION).version) == v1
    assert champion_score(registry, "m", "accuracy") == (v1, 0.80)

    run2, v2 = _register(0.805)  # better, but by less than the margin
    report = apply_gate(registry, cfg, "m", v2, run2, candidate=0.805, baseline=0.70)
    assert not report["promoted"] and report["champion"] == 0.80
    assert report["champion_version"] == v1
    assert str(registry.get_model_version_by_alias("m", CHAMPION).version) == v1
    run = registry.get_run(run2)
    assert run.data.tags["gate.decision"] == "refused"
    assert run.data.metrics["gate_promoted"] == 0.0
    assert run.data.metrics["gate_champion"] == 0.80
    assert registry.get_model_version("m", v2).tags["gate"] == "refused"

    run3, v3 = _register(0.90)  # beats the champion, but not the baseline
    report = apply_gate(registry, cfg, "m", v3, run3, candidate=0.90, baseline=0.95)
    assert not report["promoted"] and report["beats_champion"] and not report["beats_baseline"]
    assert str(registry.get_model_version_by_alias("m", CHAMPION).version) == v1

    run4, v4 = _register(0.90)  # beats both
    report = apply_gate(registry, cfg, "m", v4, run4, candidate=0.90, baseline=0.85)
    assert report["promoted"]
    assert str(registry.get_model_version_by_alias("m", CHAMPION).version) == v4
    assert registry.get_run(run4).data.metrics["gate_promoted"] == 1.0
    assert registry.get_run(run4).data.tags["gate.decision"] == "promoted"

    # evaluating the champion again (e.g. after an evaluate-only change) judges it against
    # the baseline alone instead of against itself
    report = apply_gate(registry, cfg, "m", v4, run4, candidate=0.90, baseline=0.85)
    assert report["promoted"] and report["champion"] is None
    assert report["champion_version"] == report["candidate_version"] == v4


def test_gate_without_registered_version_leaves_alias_alone(registry: MlflowClient) -> None:
    with mlflow.start_run() as run:
        pass
    report = apply_gate(registry, GateParams(), "m", None, run.info.run_id, 0.9, 0.5)
    assert report["promoted"] and not report["alias_moved"]
    assert registry.get_run(run.info.run_id).data.tags["gate.decision"] == "promoted"
