"""Check the faces manifest with great-expectations before anything trains on it.

Two tables are validated: the faces (`status == ok` rows, plus a derived `file_exists`
column) and a per-class count table (every allowed class, 0 where it has no faces), so a
missing or thin class fails with its name. `describe` turns each failure into one line.
Identical crops (one photo saved twice, e.g. a JPEG and its PNG copy) are not a failure: the
split keeps them in one group; they are listed in the summary as `duplicate_crops`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from starrec.config import ExtractParams, ValidateParams
from starrec.dataset.faces_manifest import ok_faces, read_faces_manifest
from starrec.errors import StageError

TEXT = ["str"]
NUMBER = ["int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float", "float32", "float64"]
# The faces contract (README): column -> accepted types. Integer columns may be float64 in
# the CSV because failure rows leave them empty.
COLUMNS: dict[str, list[str]] = {
    "face_id": TEXT, "class": TEXT, "path": TEXT, "source_path": TEXT, "source_sha256": TEXT,
    "status": TEXT, "reason": TEXT, "detector": TEXT, "score": NUMBER,
    "box_x": NUMBER, "box_y": NUMBER, "box_w": NUMBER, "box_h": NUMBER, "face_size": NUMBER,
    "height": NUMBER, "width": NUMBER, "channels": NUMBER, "blur_var": NUMBER,
    "sha256": TEXT, "phash": TEXT,
}
SITE = "starrec"
EXAMPLES = 3


def configured_classes(classes: Sequence[str], raw_manifest: Path) -> list[str]:
    """`classes` (download.classes) when set, else the classes the download kept (ok rows of
    its manifest)."""
    if classes:
        return sorted(classes)
    try:
        raw = pd.read_csv(raw_manifest, dtype=str)
    except (OSError, ValueError) as exc:
        raise StageError(f"{raw_manifest}: cannot read download manifest ({exc})") from exc
    if not {"class", "status"} <= set(raw.columns):
        raise StageError(f"{raw_manifest}: download manifest lacks `class`/`status` columns")
    return sorted(raw.loc[raw["status"] == "ok", "class"].dropna().unique())


def read_faces(manifest: Path) -> pd.DataFrame:
    """The faces (ok rows) of a faces manifest, with `file_exists` for each face's PNG."""
    faces = ok_faces(read_faces_manifest(manifest))
    if "path" in faces.columns:
        faces["file_exists"] = [isinstance(p, str) and (manifest.parent / p).is_file()
                                for p in faces["path"]]
    return faces


@dataclass(frozen=True)
class Validation:
    results: dict[str, Any]  # GX validation result per table
    checks: list[dict[str, Any]]  # one flat record per expectation
    counts: pd.DataFrame  # faces per class

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["success"]]


def validate_faces(params: ValidateParams, faces: pd.DataFrame, allowed_classes: Sequence[str],
                   extract: ExtractParams, docs_dir: Path) -> Validation:
    """Run both suites over `faces` (see `read_faces`) as `extract` should have cut them
    (crop size, smallest face kept); GX data docs are rendered into `docs_dir`."""
    counts = _class_counts(faces, allowed_classes)
    tables = {
        "faces": (faces, _faces_suite(params, allowed_classes, extract), "face_id"),
        "class_counts": (counts, _counts_suite(params), "class"),
    }
    results = _run_suites(tables, docs_dir)
    checks = [_check(name, r) for name, res in results.items() for r in res.results]
    return Validation(results, checks, counts)


def summary(validation: Validation, manifest: Path, faces: pd.DataFrame) -> dict[str, Any]:
    """summary.json: pass/fail, the manifest, face and class counts, every expectation."""
    counts = validation.counts
    return {
        "success": not validation.failed,
        "manifest": str(manifest),
        "faces": len(faces),
        "class_counts": dict(zip(counts["class"], counts["count"].tolist())),
        "duplicate_crops": duplicate_crops(faces),
        "expectations": validation.checks,
    }


def duplicate_crops(faces: pd.DataFrame) -> list[dict[str, Any]]:
    """Faces whose crops are byte-identical (same sha256): one record per group, with the
    classes involved (two classes: one photo under two people)."""
    if not {"sha256", "face_id", "class"} <= set(faces.columns):
        return []
    same = faces[faces["sha256"].notna() & faces.duplicated("sha256", keep=False)]
    return [{"sha256": sha, "face_ids": sorted(group["face_id"]),
             "classes": sorted(group["class"].unique())}
            for sha, group in same.groupby("sha256", sort=True)]


def _class_counts(faces: pd.DataFrame, allowed: Sequence[str]) -> pd.DataFrame:
    """Faces per class over the allowed classes and any others present (0 where none)."""
    present = faces["class"].value_counts() if "class" in faces.columns else pd.Series(dtype=int)
    names = sorted(set(allowed) | set(present.index))
    return pd.DataFrame({"class": names, "count": [int(present.get(n, 0)) for n in names]})


def _faces_suite(params: ValidateParams, classes: Sequence[str], extract: ExtractParams
                 ) -> gx.ExpectationSuite:
    e, image_size = gx.expectations, extract.image_size
    columns = [x for column, types in COLUMNS.items()
               for x in (e.ExpectColumnToExist(column=column),
                         e.ExpectColumnValuesToBeInTypeList(column=column, type_list=types))]
    return gx.ExpectationSuite(name="faces", expectations=columns + [
        e.ExpectColumnValuesToNotBeNull(column="path"),
        e.ExpectColumnValuesToNotBeNull(column="class"),
        e.ExpectColumnValuesToBeInSet(column="class", value_set=list(classes)),
        e.ExpectColumnValuesToBeUnique(column="face_id"),
        e.ExpectColumnValuesToBeBetween(column="face_size", min_value=extract.min_face_size,
                                        max_value=params.max_face_size),
        e.ExpectColumnValuesToBeInSet(column="height", value_set=[image_size]),
        e.ExpectColumnValuesToBeInSet(column="width", value_set=[image_size]),
        e.ExpectColumnValuesToBeInSet(column="channels", value_set=[1, 3]),
        e.ExpectColumnUniqueValueCountToBeBetween(column="channels", min_value=0, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="blur_var", min_value=params.min_blur_var,
                                        mostly=1.0 - params.max_blur_share),
        e.ExpectColumnValuesToBeInSet(column="file_exists", value_set=[True]),
    ])


def _counts_suite(params: ValidateParams) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="class_counts", expectations=[
        gx.expectations.ExpectColumnValuesToBeBetween(column="count",
                                                      min_value=params.min_images_per_class)])


def _run_suites(tables: dict[str, tuple[pd.DataFrame, gx.ExpectationSuite, str]],
                docs_dir: Path) -> dict[str, Any]:
    """Run each suite through a checkpoint that also renders the data docs into `docs_dir`."""
    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={SITE: {
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(docs_dir.resolve())},
        }},
    ))
    source = context.data_sources.add_pandas("manifest")
    results = {}
    for name, (frame, suite, key) in tables.items():
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=context.suites.add(suite)))
        result_format: dict[str, Any] = {"result_format": "COMPLETE",
                                         "partial_unexpected_count": EXAMPLES}
        if key in frame.columns:  # name failing rows by their id in results and docs
            result_format["unexpected_index_column_names"] = [key]
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=name, validation_definitions=[definition], result_format=result_format,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE])]))
        results[name] = next(iter(checkpoint.run(batch_parameters={"dataframe": frame})
                                  .run_results.values()))
    return results


def _check(table: str, result: Any) -> dict[str, Any]:
    """One expectation result as a flat, JSON-ready record."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "column")}
    res = result.result or {}
    errors = [info.get("exception_message") for info in _exception_infos(result.exception_info)]
    return {
        "table": table,
        "expectation": config.type,
        "column": config.kwargs.get("column"),
        "kwargs": kwargs,
        "success": bool(result.success),
        "element_count": res.get("element_count"),
        "unexpected_count": res.get("unexpected_count"),
        "observed_value": res.get("observed_value"),
        "examples": _examples(res.get("unexpected_index_list") or res.get("unexpected_list") or [],
                              config.kwargs.get("column")),
        "error": "; ".join(sorted({m for m in errors if m})) or None,
    }


def _examples(rows: list[Any], column: str | None) -> list[Any]:
    """A few failing rows, one per distinct bad value first (a lone `big` among 74 `110`s shows)."""
    value = (lambda r: str(r.get(column))) if rows and isinstance(rows[0], dict) else str
    firsts: dict[str, Any] = {}
    for row in rows:
        firsts.setdefault(value(row), row)
    rest = [r for r in rows if not any(r is f for f in firsts.values())]
    return (list(firsts.values()) + rest)[:EXAMPLES]


def _exception_infos(info: dict[str, Any]) -> list[dict[str, Any]]:
    """GX gives one exception dict, or a dict of them keyed by metric."""
    if "raised_exception" in info:
        return [info] if info["raised_exception"] else []
    return [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]


def describe(check: dict[str, Any]) -> str:
    """`table.expectation(column, kwargs): what failed, e.g. examples` on one line."""
    args = ", ".join([check["column"] or ""] + [f"{k}={_short(v)}" for k, v in check["kwargs"].items()])
    head = f"{check['table']}: {check['expectation']}({args.strip(', ')})"
    if check["error"]:
        return f"{head}: could not run ({check['error']})"
    if check["expectation"] == "expect_column_to_exist":
        return f"{head}: column missing"
    if check["unexpected_count"] is not None:
        examples = ", ".join(_example(x, check["column"]) for x in check["examples"])
        fix = ("; too few faces: leave the class out with download.classes or a higher "
               "download.min_images_per_class, or lower validate.min_images_per_class"
               if check["table"] == "class_counts" else "")
        return (f"{head}: {check['unexpected_count']} of {check['element_count']} rows fail, "
                f"e.g. {examples}{fix}")
    return f"{head}: observed {_short(check['observed_value'])}"


def _example(row: Any, column: str | None) -> str:
    """`row-id: column=value` for an unexpected row (GX gives a dict), else the bare value."""
    if not isinstance(row, dict):
        return _short(row, 24)
    ids = [f"{v}" for k, v in row.items() if k != column]
    return f"{' '.join(ids)}: {column}={_short(row.get(column), 24)}"


def _short(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
