"""Run every benchmark in turn (`make bench`): extraction speed, input pipeline vs training
step, few-shot recognition, pretrained face models, the class cleaner on label noise. Each
prints its own table; this only sequences them, so one slow or failing benchmark does not
hide the others' figures.

    python benchmarks/run_all.py [--only extract_faces input_pipeline few_shot face_models
                                  clean_noise]

few_shot uses models/backbone.keras when the pretrain stage has made it (else it pretrains).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("extract_faces", "input_pipeline", "few_shot", "face_models", "clean_noise")
log = logging.getLogger("benchmarks")


def command(name: str) -> list[str]:
    cmd = [sys.executable, str(HERE / f"{name}.py")]
    backbone = HERE.parent / "models" / "backbone.keras"
    if name == "few_shot" and backbone.is_file():
        cmd += ["--backbone", str(backbone)]
    return cmd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    failed = []
    for name in args.only:
        log.info("== %s ==", name)
        start = time.perf_counter()
        code = subprocess.call(command(name), cwd=HERE.parent)
        log.info("== %s: exit %d after %.0f s ==", name, code, time.perf_counter() - start)
        if code:
            failed.append(name)
    if failed:
        log.error("failed: %s", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
