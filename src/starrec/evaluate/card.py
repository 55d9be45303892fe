"""The model card: what a registered version was trained on, how well it does, what it is
for, where it fails, and the licence of every pretrained file it runs on. Markdown, so
MLflow shows it as the version's description and the run keeps it as an artifact."""

from __future__ import annotations

from collections.abc import Mapping

INTENDED_USE = (
    "Naming the few celebrities it was trained on in photos and video frames, for a demo or "
    "a personal photo collection. Faces of anyone else are meant to come out as `unknown` "
    "(the open-set threshold).")
LIMITS = (
    "- Trained and tested on LFW-style press photos: frontal, adult, mostly light-skinned "
    "men. Expect lower accuracy on profiles, children, other lighting and other people.\n"
    "- A closed list of names: a look-alike of a trained star can be named as that star "
    "when the open-set score clears the threshold.\n"
    "- Not for identifying people without their consent, surveillance or any decision "
    "about a person.")


def _table(rows: Mapping[str, object], head: tuple[str, str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


def model_card(title: str, model: str, classes: list[str], data: Mapping[str, str],
               numbers: Mapping[str, float], gate_reason: str,
               licences: Mapping[str, str]) -> str:
    """Markdown card. `data`: data set name, split sizes, commit and dvc.lock hashes;
    `numbers`: the headline metrics; `licences`: {pretrained file: licence}."""
    files = (_table(licences, ("pretrained file", "licence")) if licences
             else "None: every weight was trained here.")
    return "\n\n".join([
        f"# {title}",
        f"**Model** `{model}` naming {len(classes)} people: {', '.join(classes)}.",
        f"## Data\n\n{_table(data, ('', ''))}",
        f"## Metrics (test split)\n\n{_table({k: f'{v:.4f}' for k, v in numbers.items()}, ('metric', 'value'))}",
        f"**Promotion gate**: {gate_reason}",
        f"## Intended use\n\n{INTENDED_USE}",
        f"## Limits\n\n{LIMITS}",
        f"## Licences of the pretrained files\n\n{files}",
    ]) + "\n"


def run_description(title: str, numbers: Mapping[str, float], gate_reason: str) -> str:
    """The run's description (mlflow.note.content): the gate's reason and headline numbers."""
    shown = ", ".join(f"{k} **{v:.3f}**" for k, v in numbers.items() if k != "gate/promoted")
    return f"**{title}**\n\n{gate_reason}\n\n{shown}\n"
