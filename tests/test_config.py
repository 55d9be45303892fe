from pathlib import Path

import pytest

from starrec.config import ConfigError, load_config


def test_repo_params_load(repo_root: Path) -> None:
    cfg = load_config(repo_root / "params.yaml")
    assert cfg.download.source == "folder"
    assert abs(cfg.split.train + cfg.split.val + cfg.split.test - 1.0) < 1e-9


def test_unknown_key_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("extract:\n  detectr: haar\n")
    with pytest.raises(ConfigError, match=r"params.yaml: invalid params \(extract.detectr"):
        load_config(bad)


def test_wrong_choice_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("download:\n  source: ftp\n")
    with pytest.raises(ConfigError, match="download.source"):
        load_config(bad)
