"""docs/reliability.md is the fault suite's case list, regenerated, never edited by hand."""

from __future__ import annotations

from helpers.faults import collect, render
from helpers.paths import REPO_ROOT


def test_reliability_doc_matches_the_suite() -> None:
    found = collect()
    assert len(found) >= 30
    assert (REPO_ROOT / "docs" / "reliability.md").read_text() == render(found), \
        "docs/reliability.md is stale: run `make reliability-doc`"
