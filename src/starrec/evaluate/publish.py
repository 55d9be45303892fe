"""The training run and its registered versions, made readable in the MLflow UI: the run's
description, the model card as an artifact and as each version's description, version tags
that pin a version to its commit, data and test figures."""

from __future__ import annotations

from collections.abc import Mapping

from mlflow.tracking import MlflowClient

from starrec.evaluate.card import INTENDED_USE

CARD = "model_card.md"
DESCRIPTION_TAG = "mlflow.note.content"  # what the UI shows as a run's description
PROVENANCE = ("git.commit", "dataset.")  # run tags a version inherits (dvc.* too)


def provenance(run_tags: Mapping[str, str]) -> dict[str, str]:
    """The run's commit, data set and dvc.lock data hashes (tags set by the train stage)."""
    return {k: v for k, v in run_tags.items() if k.startswith((*PROVENANCE, "dvc."))}


def publish(client: MlflowClient, run_id: str, versions: Mapping[str, str], card: str,
            description: str, tags: Mapping[str, str]) -> None:
    """Description and card on the run; on each {registered model: version}: `tags`, the
    card as its description, and a description of the registered model itself."""
    client.set_tag(run_id, DESCRIPTION_TAG, description)
    client.log_text(run_id, card, CARD)
    for name, version in versions.items():
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
        client.update_model_version(name, version, description=card)
        client.update_registered_model(name, description=(
            f"Celebrity face recognition (starrec). {INTENDED_USE} Each version's "
            "description is its model card: data, test metrics, limits, licences."))
