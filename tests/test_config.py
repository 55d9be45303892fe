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


def test_dataset_overrides_merge_over_base(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "extract:\n  image_size: 48\n"
        "datasets:\n  public_faces:\n    paths: {raw: data/public/raw}\n"
        "    download: {min_images_per_class: 20}\n"
    )
    base = load_config(params)
    public = load_config(params, "public_faces")
    assert str(base.paths.raw) == "data/raw" and str(public.paths.raw) == "data/public/raw"
    assert public.download.min_images_per_class == 20
    assert public.extract.image_size == 48  # inherited from the top level
    with pytest.raises(ConfigError, match="no data set 'nope'"):
        load_config(params, "nope")


def test_typo_in_a_dataset_override_fails_up_front(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("datasets:\n  public_faces:\n    extract: {imagesize: 48}\n")
    with pytest.raises(ConfigError, match=r"datasets.public_faces.extract.imagesize"):
        load_config(params)
