"""Fixtures for the pretrained face-model tests: the repo's params, real model files (resolved
through the verified loader), real photos from ../shared/datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from starrec.config import Config, load_config
from starrec.faces.artifacts import model_file
from starrec.faces.embed import SfaceEmbedder
from starrec.faces.yunet import YunetDetector

sys.path.insert(0, str(Path(__file__).parent))  # lets test modules import face_photos


@pytest.fixture(scope="session")
def cfg(repo_root: Path) -> Config:
    return load_config(repo_root / "params.yaml")


@pytest.fixture(scope="session")
def yunet(cfg: Config) -> YunetDetector:
    return YunetDetector(cfg.faces.yunet, model_file("yunet", cfg.faces.models, None))


@pytest.fixture(scope="session")
def sface(cfg: Config) -> SfaceEmbedder:
    return SfaceEmbedder(model_file("sface", cfg.faces.models, None))


@pytest.fixture(scope="session")
def lfw(shared_datasets: Path) -> Path:
    return shared_datasets / "lfw-subset"


@pytest.fixture(scope="session")
def five(shared_datasets: Path) -> Path:
    return shared_datasets / "five-celebrity-faces"
