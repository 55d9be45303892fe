"""The src/ deps a stage declares, derived from what its script imports: a package folder when
the stage imports every module in it (listing the folder then re-runs nothing extra), else the
module files. tests/unit/test_architecture.py holds dvc.yaml to exactly this list;
`python tests/helpers/stage_deps.py` rewrites both pipeline files' src/ lines to it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.imports import SRC, source_files  # noqa: E402
from helpers.paths import REPO_ROOT  # noqa: E402

PIPELINE_FILES = ("dvc.yaml", "research/dvc.yaml")
TOP = SRC / "starrec"


def src_deps(script: Path) -> list[str]:
    """The repo-relative src/ deps of the stage whose script is `script`, in order: the
    top-level modules, then per package its folder or its files."""
    needed = source_files(script)
    deps = sorted(f for f in needed if f.parent == TOP)
    for package in sorted(p for p in TOP.iterdir() if (p / "__init__.py").is_file()):
        files = {f for f in package.rglob("*.py") if "__pycache__" not in f.parts}
        mine = sorted(needed & files)
        deps += [package] if mine and set(mine) == files else mine
    return [str(d.relative_to(REPO_ROOT)) for d in deps]


STAGE = re.compile(r"^  (\w+):\n", re.M)
SRC_LINE = re.compile(r"^(\s+)- src/\S+\n", re.M)


def rewritten(text: str) -> str:
    """A pipeline file's text with each stage's run of `- src/...` lines replaced by
    `src_deps` of the stage's script (comments and other deps as they were)."""
    starts = [m.start() for m in STAGE.finditer(text)] + [len(text)]
    out = [text[:starts[0]]]
    for start, end in zip(starts, starts[1:], strict=False):
        block = text[start:end]
        script = re.search(r"cmd: python (pipelines/\w+\.py)", block)
        lines = list(SRC_LINE.finditer(block))
        if script is None or not lines:
            out.append(block)
            continue
        indent = lines[0].group(1)
        new = "".join(f"{indent}- {d}\n" for d in src_deps(REPO_ROOT / script.group(1)))
        block = block[:lines[0].start()] + new + SRC_LINE.sub("", block[lines[0].start():])
        out.append(block)
    return "".join(out)


def main() -> int:
    for name in PIPELINE_FILES:
        path = REPO_ROOT / name
        path.write_text(rewritten(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
