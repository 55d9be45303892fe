"""The `faces:` section of params.yaml: every knob required (no defaults), ranges checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from starrec.config import ConfigError, load_config


def params_with(repo_root: Path, tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    edit(raw["faces"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(("edit", "error"), [
    (lambda f: f["yunet"].pop("nms_threshold"), r"faces\.yunet\.nms_threshold: Field required"),
    (lambda f: f["models"].pop("cache_dir"), r"faces\.models\.cache_dir: Field required"),
    (lambda f: f.pop("embedder"), r"faces\.embedder: Field required"),
    (lambda f: f["yunet"].update(score_threshold=1.5),
     r"faces\.yunet\.score_threshold: Input should be less than 1"),
    (lambda f: f["yunet"].update(top_k=0), r"faces\.yunet\.top_k: Input should be greater than 0"),
    (lambda f: f.update(embedder="arcface"), r"faces\.embedder: Input should be 'sface', 'dlib' or 'own'"),
])
def test_a_missing_or_out_of_range_knob_is_refused(repo_root: Path, tmp_path: Path, edit, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_config(params_with(repo_root, tmp_path, edit))


def test_repo_params_configure_yunet_and_sface(repo_root: Path) -> None:
    faces = load_config(repo_root / "params.yaml").faces
    assert faces is not None and faces.embedder == "sface" and faces.models.paths == {}
    assert 0 < faces.yunet.score_threshold < 1
