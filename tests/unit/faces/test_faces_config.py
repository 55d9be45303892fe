"""The `faces:` section of params.yaml: every knob required (no defaults), ranges checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from starrec.config import ConfigError, load_config


def params_with(repo_root: Path, tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    edit(raw["faces"], raw["extract"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(("edit", "error"), [
    (lambda f, e: e["yunet"].pop("nms_threshold"), r"extract\.yunet\.nms_threshold: Field required"),
    (lambda f, e: f["models"].pop("cache_dir"), r"faces\.models\.cache_dir: Field required"),
    (lambda f, e: f.pop("embedder"), r"faces\.embedder: Field required"),
    (lambda f, e: e["yunet"].update(score_threshold=1.5),
     r"extract\.yunet\.score_threshold: Input should be less than 1"),
    (lambda f, e: e["yunet"].update(top_k=0), r"extract\.yunet\.top_k: Input should be greater than 0"),
    (lambda f, e: f.update(embedder="arcface"),
     r"faces\.embedder: Input should be 'sface', 'sface_keras', 'dlib' or 'own'"),
])
def test_a_missing_or_out_of_range_knob_is_refused(repo_root: Path, tmp_path: Path, edit, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_config(params_with(repo_root, tmp_path, edit))


def test_repo_params_configure_yunet_and_sface(repo_root: Path) -> None:
    cfg = load_config(repo_root / "params.yaml")
    assert cfg.faces.embedder == "sface" and cfg.faces.models.paths == {}
    assert cfg.extract.detector == "yunet" and 0 < cfg.extract.yunet.score_threshold < 1
