"""Write docs/reliability.md from the fault suite's cases: `python tests/faults/report.py`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT)]

from helpers.faults import collect, render  # noqa: E402

DOC = ROOT / "docs" / "reliability.md"

if __name__ == "__main__":
    DOC.write_text(render(collect()))
    print(f"{DOC}: {len(collect())} cases")
