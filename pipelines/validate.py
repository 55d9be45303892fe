"""Stage `validate`: great-expectations checks of `paths.faces` before the split.

Writes result.json, summary.json and the GX data docs to `paths.validation` even when
validation fails; then stops with one line per failed expectation (`--dataset NAME` picks
the data set).
"""

from __future__ import annotations

import logging

from starrec.artifacts import MANIFEST
from starrec.config import Config
from starrec.dataset.validate import (
    configured_classes,
    describe,
    read_faces,
    summary,
    validate_faces,
)
from starrec.errors import StageError
from starrec.io import atomic_dir, write_json_atomic
from starrec.stage import run_stage

log = logging.getLogger("starrec.validate")


def main(cfg: Config) -> None:
    classes = configured_classes(cfg.download.classes, cfg.paths.raw / MANIFEST)
    manifest = cfg.paths.faces / MANIFEST
    faces = read_faces(manifest)
    with atomic_dir(cfg.paths.validation) as out:
        result = validate_faces(cfg.validate_, faces, classes, cfg.extract,
                                out / "data_docs")
        write_json_atomic(out / "result.json",
                          {name: r.to_json_dict() for name, r in result.results.items()})
        report = summary(result, manifest, faces)
        write_json_atomic(out / "summary.json", report)
    for group in report["duplicate_crops"]:
        log.warning("identical face crops (kept in one split group): %s",
                    ", ".join(group["face_ids"]))
    if result.failed:
        lines = [describe(c) for c in result.failed]
        for line in lines:
            log.error("validation failed: %s", line)
        raise StageError(f"{manifest}: {len(lines)} of {len(result.checks)} expectations failed "
                         f"(see {cfg.paths.validation}/data_docs/index.html):\n  "
                         + "\n  ".join(lines))
    log.info("%s: %d faces in %d classes pass %d expectations", manifest, len(faces),
             len(result.counts), len(result.checks))


if __name__ == "__main__":
    run_stage(main)
