"""Fixtures for the extract_faces tests: real shared photos as raw dirs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # lets test modules import raw_photos

from raw_photos import FIVE, LFW10, copy_photos, make_raw  # noqa: E402


@pytest.fixture(scope="session")
def lfw10(shared_datasets: Path) -> Path:
    return shared_datasets / LFW10


@pytest.fixture(scope="session")
def five(shared_datasets: Path) -> Path:
    return shared_datasets / FIVE


@pytest.fixture(scope="session")
def lfw10_raw(tmp_path_factory: pytest.TempPathFactory, lfw10: Path) -> Path:
    """All 100 photos of lfw-original-10x10 as a raw dir."""
    return make_raw(tmp_path_factory.mktemp("raw_lfw10"), copy_photos(sorted(lfw10.glob("*/*.jpg"))))


