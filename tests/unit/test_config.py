"""params.yaml is the only source of knobs: the typed config validates types and ranges,
names the key in a one-line error, and has no defaults of its own."""

from pathlib import Path

import pytest
import yaml
from helpers.params import config, deep_update, raw_params

from starrec.artifacts import PUBLIC, STARS
from starrec.config import Config, ConfigError, Section, load_config, parse_config


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_repo_params_load(repo_root: Path) -> None:
    cfg = load_config(repo_root / "params.yaml")
    assert cfg.download.source == "folder" and cfg.download.min_images_per_class == 70
    assert abs(cfg.split.train + cfg.split.val + cfg.split.test - 1.0) < 1e-9
    public = load_config(repo_root / "params.yaml", PUBLIC)
    assert str(public.paths.raw) == "data/public/raw" and public.download.min_images_per_class == 20
    assert public.extract == cfg.extract  # everything but paths and download is shared


def test_no_field_has_a_default() -> None:
    def sections(model: type[Section]):
        yield model
        for field in model.model_fields.values():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, Section):
                yield from sections(kind)

    defaults = [f"{model.__name__}.{name}" for model in sections(Config)
                for name, field in model.model_fields.items() if not field.is_required()]
    assert defaults == []


@pytest.mark.parametrize(("key", "value"), [
    ("extract.image_size", 0),
    ("extract.n_jobs", 0),
    ("extract.margin", -0.1),
    ("train.epochs", 0),
    ("train.batch_size", 0),
    ("train.dropout", 1.0),
    ("predict.video_every", 0),
    ("predict.max_image_pixels", -1),
    ("video.detect_every", 0),
    ("video.cut_distance", 1.0),
    ("video.iou_weight", 1.5),
    ("video.quality.full_size", 0),
    ("evaluate.gate.margin", -0.5),
    ("pretrain.arc_margin", -0.2),
    ("pretrain.pairs", 0),
    ("augment.copies", 0),
    ("validate.min_images_per_class", -1),
    ("datasets.stars.download.min_images_per_class", -3),
])
def test_out_of_range_value_is_refused_naming_the_key(tmp_path: Path, key: str, value) -> None:
    *parents, leaf = key.split(".")
    update: dict = {leaf: value}
    for parent in reversed(parents):
        update = {parent: update}
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, deep_update(raw_params(), update)))
    message = str(err.value)
    assert key in message and "\n" not in message
    assert message.startswith(f"{tmp_path / 'params.yaml'}: invalid params (")


def test_missing_key_is_an_error_not_a_default(tmp_path: Path) -> None:
    raw = raw_params()
    del raw["train"]["epochs"]
    with pytest.raises(ConfigError, match=r"train\.epochs: Field required"):
        load_config(_write(tmp_path, raw))


def test_unknown_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"params.yaml: invalid params \(extract.detectr"):
        load_config(_write(tmp_path, deep_update(raw_params(), {"extract": {"detectr": "haar"}})))


def test_wrong_choice_is_a_clear_error(tmp_path: Path) -> None:
    bad = deep_update(raw_params(), {"datasets": {STARS: {"download": {"source": "ftp"}}}})
    with pytest.raises(ConfigError, match=r"datasets\.stars\.download\.source"):
        load_config(_write(tmp_path, bad))


def test_split_shares_must_sum_to_one() -> None:
    with pytest.raises(ConfigError, match=r"split: Value error, train \+ val \+ test must be 1"):
        config(split={"test": 0.3})


def test_dataset_entry_merges_into_paths_and_download() -> None:
    cfg = config(PUBLIC, datasets={PUBLIC: {"download": {"classes": ["a", "b"]}}})
    assert cfg.download.classes == ["a", "b"] and cfg.datasets[PUBLIC].download.classes == ["a", "b"]
    assert cfg.download.cache_dir == config().download.cache_dir  # shared section kept
    with pytest.raises(ConfigError, match="no data set 'nope'"):
        config("nope")


def test_data_set_keys_at_the_top_level_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"paths\.raw: set per data set"):
        parse_config(deep_update(raw_params(), {"paths": {"raw": "x"}}), "params.yaml")
    with pytest.raises(ConfigError, match=r"datasets\.public: missing"):
        raw = raw_params()
        del raw["datasets"][PUBLIC]
        parse_config(raw, "params.yaml")


def test_typo_in_a_dataset_entry_fails_up_front() -> None:
    with pytest.raises(ConfigError, match=r"datasets\.public\.paths\.tfrecordz"):
        config(datasets={PUBLIC: {"paths": {"tfrecordz": "x"}}})
