"""`starrec inspect`: check TFRecords against their schema, count labels, draw a contact sheet.

The original project's "read_tfrecord" check, made strict: every record must parse, carry
exactly the schema's features with the right types, decode to the declared shape and match
its sha256; corrupt shards are reported by file and reason instead of crashing the reader.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from starrec.artifacts import LABEL_MAP, SCHEMA
from starrec.dataset.tfrecords import FEATURES

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SHEET_PER_LABEL = 8
_KINDS = {"bytes": "bytes_list", "int64": "int64_list"}


@dataclass
class Inspection:
    files: list[Path]
    records: int = 0
    per_label: Counter[tuple[int, str]] = field(default_factory=Counter)
    per_split: Counter[str] = field(default_factory=Counter)  # records per shard-name prefix
    errors: list[str] = field(default_factory=list)
    samples: dict[str, list[np.ndarray]] = field(default_factory=dict)


def _features(example: tf.train.Example, expected: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Single values of the expected features, and what is wrong with the record's features."""
    have = example.features.feature
    values, problems = {}, []
    for name, kind in expected.items():
        if name not in have:
            problems.append(f"missing feature {name!r}")
            continue
        found = have[name].WhichOneof("kind")
        items = getattr(have[name], found).value if found else []
        if found != _KINDS[kind] or len(items) != 1:
            problems.append(f"feature {name!r} is {len(items)} x {found}, schema says 1 x {kind}")
        else:
            values[name] = items[0]
    problems += [f"unexpected feature {name!r}" for name in sorted(set(have) - set(expected))]
    return values, problems


def _check(v: dict[str, Any], image_spec: dict[str, int] | None,
           classes: list[str] | None) -> tuple[np.ndarray | None, list[str]]:
    """Decode the image and check it against its own fields, the schema and the label map."""
    problems = []
    try:
        image = tf.io.decode_png(v["image"], channels=0).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as exc:
        return None, [f"image does not decode as PNG ({exc.message.splitlines()[0]})"]
    declared = (v["height"], v["width"], v["channels"])
    if image.shape != declared:
        problems.append(f"image is {image.shape}, its fields say {declared}")
    if image_spec and image.shape != tuple(image_spec[k] for k in ("height", "width", "channels")):
        problems.append(f"image is {image.shape}, schema says "
                        f"{tuple(image_spec[k] for k in ('height', 'width', 'channels'))}")
    if v["sha256"].decode(errors="replace") != hashlib.sha256(v["image"]).hexdigest():
        problems.append("sha256 does not match the image bytes")
    if classes is not None:
        if not 0 <= v["label"] < len(classes):
            problems.append(f"label {v['label']} outside the {len(classes)} classes")
        elif classes[v["label"]] != v["label_name"].decode(errors="replace"):
            problems.append(f"label {v['label']} is {classes[v['label']]!r} in label_map.json, "
                            f"record says {v['label_name'].decode(errors='replace')!r}")
    return image, problems


def _shards(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.tfrecord"))
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"{path}: no such file or directory")


def inspect_tfrecords(path: Path, schema_path: Path | None = None) -> Inspection:
    """Read every record of `path` (a shard or a folder of them). The schema is `schema_path`
    or the folder's schema.json; label_map.json beside the shards, if any, is checked too."""
    path = Path(path)
    files = _shards(path)
    folder = path if path.is_dir() else path.parent
    schema_path = schema_path or (folder / SCHEMA if (folder / SCHEMA).exists() else None)
    schema = json.loads(Path(schema_path).read_text()) if schema_path else {}
    expected = schema.get("features", FEATURES)
    missing_core = sorted(set(FEATURES) - set(expected))
    labels = folder / LABEL_MAP
    classes = json.loads(labels.read_text())["classes"] if labels.exists() else None
    result = Inspection(files)
    if not files:
        result.errors.append(f"{path}: no .tfrecord files")
    if missing_core:
        result.errors.append(f"{schema_path}: schema lacks the features {missing_core}")
        return result
    per_split = result.per_split
    for file in files:
        n = 0  # records read from this file
        try:
            for raw in tf.data.TFRecordDataset(str(file)).as_numpy_iterator():
                n += 1
                result.records += 1
                per_split[file.name.split("-")[0]] += 1
                try:
                    values, problems = _features(tf.train.Example.FromString(raw), expected)
                except DecodeError:
                    result.errors.append(f"{file}#{n - 1}: not a tf.train.Example")
                    continue
                image = None
                if not problems:
                    image, problems = _check(values, schema.get("image"), classes)
                    name = values["label_name"].decode(errors="replace")
                    result.per_label[(values["label"], name)] += 1
                    if image is not None and len(result.samples.setdefault(name, [])) < SHEET_PER_LABEL:
                        result.samples[name].append(image)
                result.errors += [f"{file}#{n - 1}: {p}" for p in problems]
        except tf.errors.DataLossError as exc:
            result.errors.append(f"{file}: corrupt after {n} records "
                                 f"({exc.message.splitlines()[0]})")
    if path.is_dir():
        for split, info in schema.get("splits", {}).items():
            absent = [s for s in info["shards"] if not (path / s).exists()]
            if absent:
                result.errors.append(f"{path}: {split} shards in the schema are missing: {absent}")
            elif per_split[split] != info["records"]:
                result.errors.append(f"{path}: {per_split[split]} {split} records, "
                                     f"schema says {info['records']}")
    return result


def save_contact_sheet(result: Inspection, out: Path) -> None:
    """One row per label name: the first images found."""
    rows = sorted(result.samples.items())
    if not rows:
        return
    n_cols = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.2 * n_cols, 1.3 * len(rows)),
                             squeeze=False)
    for (name, images), row in zip(rows, axes, strict=True):
        for c, ax in enumerate(row):
            ax.axis("off")
            if c < len(images):
                img = images[c]
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
        row[0].set_title(name, fontsize=7, loc="left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def run_inspect(path: str, out: str, schema: str | None, max_errors: int = 20) -> int:
    """CLI body: print the label table and the errors; 1 if any record or shard is bad."""
    console = Console()
    try:
        result = inspect_tfrecords(Path(path), Path(schema) if schema else None)
    except (OSError, ValueError) as exc:
        console.print(Text.assemble(("error ", "red"), str(exc)), soft_wrap=True)
        return 1
    table = Table(caption=f"{result.records} records in {len(result.files)} shard(s)")
    for col in ("label", "name", "records"):
        table.add_column(col, justify="right" if col != "name" else "left")
    for (label, name), count in sorted(result.per_label.items()):
        table.add_row(str(label), name, str(count))
    console.print(Text(str(path), style="bold"), soft_wrap=True)
    console.print(table)
    console.print("records per split: " + ", ".join(
        f"{split} {n}" for split, n in sorted(result.per_split.items())), soft_wrap=True)
    if not result.errors:
        console.print(Text.assemble(("schema OK", "green"), f": {result.records} records "
                                    "parse, decode and match the schema and label map"))
    if result.samples:
        save_contact_sheet(result, Path(out))
        console.print(f"contact sheet: {out}", soft_wrap=True)
    for line in result.errors[:max_errors]:
        console.print(Text.assemble(("error ", "red"), line), soft_wrap=True)
    if len(result.errors) > max_errors:
        console.print(f"... and {len(result.errors) - max_errors} more errors")
    return 1 if result.errors else 0
