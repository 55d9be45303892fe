"""Typed configuration: params.yaml is read once, here, and passed down as a `Config`.

Every knob of the pipeline lives in params.yaml; unknown keys are an error so a typo in a
param never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paths(Section):
    """Stage outputs; dvc.yaml reads the same keys through `${paths.*}` templating."""

    raw: Path = Path("data/raw")
    faces: Path = Path("data/faces")
    validation: Path = Path("data/validation")
    splits: Path = Path("data/splits")
    tfrecords: Path = Path("data/tfrecords")
    augmented: Path = Path("data/augmented")
    models: Path = Path("models")
    reports: Path = Path("reports")


# --- download -------------------------------------------------------------------------


class HttpParams(Section):
    workers: int = 8  # parallel downloads
    timeout_s: float = 10.0  # connect and read timeout, per attempt
    retries: int = 3  # on connection errors, timeouts and 5xx (never on 4xx)
    backoff_factor: float = 0.5  # sleep backoff_factor * 2**(attempt-1) between retries
    max_bytes: int = 10_000_000  # per image; bigger bodies are recorded `too_large`


class UrlsSource(Section):
    """The original exercise's format: `<dir>/<star>_urls.txt`, one URL per line."""

    dir: Path = Path("urls")
    stars: list[str] = [
        "nicolas_cage",
        "brad_pitt",
        "angelina_jolie",
        "leonardo_dicaprio",
        "robert_downey_jr",
    ]


class LfwSource(Section):
    """The funneled LFW archive: the mirror and sha256 of scikit-learn's `fetch_lfw_people`
    (its default, funneled=True, i.e. `FUNNELED_ARCHIVE` in sklearn/datasets/_lfw.py)."""

    url: str = "https://ndownloader.figshare.com/files/5976015"
    sha256: str = "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a"
    filename: str = "lfw-funneled.tgz"  # name of the verified copy in `cache_dir`


class FolderSource(Section):
    """A class-per-folder directory, or a .zip / .tar.gz file or URL of one."""

    path: str = "../shared/datasets/lfw-subset"


class ArchiveLimits(Section):
    """Caps for any archive extracted (LFW, folder archives); also the archive download cap."""

    max_files: int = 200_000
    max_total_bytes: int = 2_000_000_000
    max_member_bytes: int = 50_000_000


class DownloadParams(Section):
    source: Literal["urls", "lfw", "folder"] = "folder"
    classes: list[str] = []  # explicit class list; empty = every class the source has
    min_images_per_class: int = 0  # keep classes with at least this many ok images
    cache_dir: Path = Path("data/cache")  # verified downloads kept between runs (resume)
    http: HttpParams = HttpParams()
    urls: UrlsSource = UrlsSource()
    lfw: LfwSource = LfwSource()
    folder: FolderSource = FolderSource()
    archive: ArchiveLimits = ArchiveLimits()


# --- extract_faces --------------------------------------------------------------------


class HaarParams(Section):
    cascade: str = "haarcascade_frontalface_alt2.xml"  # a file in cv2.data.haarcascades
    scale_factor: float = 1.1
    min_neighbors: int = 3
    min_size: int = 24  # in detection-image pixels (min_face_size, scaled, may raise it)


class MtcnnParams(Section):
    min_confidence: float = 0.9


class ExtractParams(Section):
    detector: Literal["haar", "mtcnn", "yunet"] = "haar"
    haar: HaarParams = HaarParams()
    mtcnn: MtcnnParams = MtcnnParams()
    detect_max_side: int = 640  # photos are downscaled to this before detection
    policy: Literal["largest", "all", "most_confident"] = "largest"
    margin: float = 0.2  # fraction of the box side added on every side
    min_face_size: int = 40  # in original-photo pixels
    image_size: int = 64
    color_mode: Literal["gray", "rgb"] = "gray"
    n_jobs: int = 2
    preview_per_class: int = 8


# --- pretrained face models (faces/artifacts, detectors, align, embed) ----------------


class FaceModelsParams(Section):
    """Where pretrained face-model files come from; faces/artifacts.py knows each file."""

    cache_dir: Path  # URL downloads, kept only when their sha256 matches
    paths: dict[str, Path]  # model name -> explicit file, used instead of package copy or URL


class YunetParams(Section):
    """cv2.FaceDetectorYN knobs (OpenCV zoo YuNet)."""

    score_threshold: float = Field(gt=0, lt=1)  # faces scored below are dropped
    nms_threshold: float = Field(gt=0, lt=1)  # IoU above which the weaker box is suppressed
    top_k: int = Field(gt=0)  # candidates kept before NMS


class FacesParams(Section):
    """Pretrained detection with landmarks, alignment and embeddings (issue 11)."""

    models: FaceModelsParams
    yunet: YunetParams
    embedder: Literal["sface", "dlib", "own"]
    backbone: Path  # the `own` embedder's Keras file (the pretrain stage's output)


class CleanParams(Section):
    """Scraped classes cleaned by face embeddings (faces/clean.py): faces that disagree with
    their class are flagged with a reason, or excluded under policy `drop`."""

    policy: Literal["flag", "drop"]  # flag: keep the rows, reason given; drop: status excluded
    far_below: float = Field(gt=0, lt=1)  # cosine to the class consensus below this: far
    duplicate_above: float = Field(gt=0, lt=1)  # two faces this close are one face (conflict)

    @model_validator(mode="after")
    def _ordered(self) -> CleanParams:
        if self.duplicate_above <= self.far_below:
            raise ValueError(f"duplicate_above {self.duplicate_above} must be above "
                             f"far_below {self.far_below}")
        return self


# --- validate / split / tfrecords / augment -------------------------------------------


class ValidateParams(Section):
    min_images_per_class: int = 10
    min_face_size: int = 40
    max_face_size: int = 4000
    min_blur_var: float = 0.0  # Laplacian variance below this counts as blurry
    max_blur_share: float = 1.0  # at most this share of faces may be blurry; 1.0 = no blur gate


class SplitParams(Section):
    """Shares of each class per split (they must sum to 1) over leakage groups."""

    train: float = Field(0.6, gt=0, lt=1)
    val: float = Field(0.2, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    seed: int = 42
    phash_max_distance: int = Field(4, ge=0)  # faces this close (Hamming bits) are one group


class TfrecordsParams(Section):
    shard_size: int = Field(500, gt=0)  # records per shard at most; shards are balanced


class RangeOp(Section):
    """An augmentation op, applied with a value drawn uniformly from [low, high]."""

    enabled: bool = True
    low: float = 0.0
    high: float = 0.0

    @model_validator(mode="after")
    def _ordered(self) -> RangeOp:
        if self.low > self.high:
            raise ValueError(f"low {self.low} > high {self.high}")
        return self


class AugmentParams(Section):
    """Offline augmentation of the train split (and the online Keras layers' ranges).

    brightness: delta added to [0, 1] pixels; contrast, saturation: factors; hue: shift as a
    fraction of the hue circle (RGB only); rotation_deg: degrees; zoom: scale (> 1 = zoom in);
    translation: shift as a fraction of the image side.
    """

    copies: int = Field(2, ge=1)  # augmented images written per train image
    seed: int = 42
    flip: bool = True  # horizontal, with probability 1/2
    brightness: RangeOp = RangeOp(low=-0.25, high=0.25)
    contrast: RangeOp = RangeOp(low=0.7, high=1.5)
    saturation: RangeOp = RangeOp(low=0.7, high=1.3)
    hue: RangeOp = RangeOp(low=-0.05, high=0.05)
    rotation_deg: RangeOp = RangeOp(low=-15.0, high=15.0)
    zoom: RangeOp = RangeOp(low=0.9, high=1.1)
    translation: RangeOp = RangeOp(low=-0.08, high=0.08)


# --- train / evaluate / tracking -------------------------------------------------------


class OptimizerParams(Section):
    name: Literal["sgd", "momentum", "adam", "rmsprop"] = "adam"
    learning_rate: float = 5e-4
    momentum: float = 0.9


class ScheduleParams(Section):
    name: Literal["constant", "exponential", "time_decay", "step", "cosine"] = "cosine"
    decay_rate: float = 0.96  # exponential: lr * rate ** (epoch // decay_epochs)
    decay_epochs: int = 20  # exponential step length; step: halve every N epochs
    staircase: bool = True
    decay: float = 0.01  # time_decay: lr / (1 + decay * epoch)
    drop: float = 0.5  # step: factor per `decay_epochs`
    min_lr: float = 0.0  # cosine floor


class TransferParams(Section):
    backbone: str = "MobileNetV2"
    weights: str = "none"  # imagenet | none | pretrained | path to a weights file
    fine_tune_layers: int = 0  # 0 = frozen feature extractor


class EmbeddingHeadParams(Section):
    """A softmax classifier on face embeddings (train/embedding_head.py)."""

    hidden: int = Field(ge=0)  # units of one hidden ReLU layer; 0 = none (multinomial logistic)
    dropout: float = Field(ge=0, lt=1)  # on the layer before the softmax
    l2: float = Field(ge=0)  # kernel regulariser of every Dense layer
    epochs: int = Field(gt=0)
    learning_rate: float = Field(gt=0)  # Adam
    batch_size: int = Field(gt=0)


class TrainParams(Section):
    model: Literal["fcn", "star_cnn", "transfer"] = "star_cnn"
    epochs: int = 20
    batch_size: int = 32
    optimizer: OptimizerParams = OptimizerParams()
    schedule: ScheduleParams = ScheduleParams()
    l2: float = 1e-4
    dropout: float = 0.3
    batch_norm: bool = True
    early_stopping_patience: int = 8
    class_weights: bool = True
    online_augmentation: bool = False
    use_augmented: bool = True  # train on train + train_aug shards
    transfer: TransferParams = TransferParams()
    embedding_head: EmbeddingHeadParams | None = None  # required once every section is
    seed: int = 42
    deterministic: bool = False
    mixed_precision: bool = False
    strategy: Literal["default", "mirrored", "multi_worker"] = "default"


class MlflowParams(Section):
    tracking_uri: str = "sqlite:///mlflow.db"  # MLFLOW_TRACKING_URI overrides
    experiment: str = "starrec"
    registered_model: str = "starrec"
    log_locally_if_unreachable: bool = False
    connect_timeout_s: float = 5.0


class GateParams(Section):
    """`champion` moves only if the candidate beats champion and baseline by `margin`."""

    metric: Literal["accuracy", "top_k_accuracy", "macro_f1", "macro_precision",
                    "macro_recall", "macro_iou", "micro_f1", "micro_iou"] = "accuracy"
    margin: float = 0.0


class EvaluateParams(Section):
    top_k: int = 3
    batch_size: int = 128
    baseline_components: int = 100  # PCA components (eigenfaces), capped by the train size
    baseline_C: list[float] = [1.0, 10.0, 100.0]  # SVC grid, 3-fold CV on the train split
    baseline_gamma: list[float | Literal["scale"]] = ["scale", 0.003, 0.001]
    seed: int = 42
    misclassified_max: int = 36  # faces shown in reports/misclassified.png
    compare_pretrained: bool = True  # also score the pretrain backbone: transfer + prototypes
    few_shot: int = 5  # train photos per class for the few-shot prototype score
    gate: GateParams = GateParams()


# --- calibrate / predict / serve ------------------------------------------------------


class UnknownPeopleParams(Section):
    """Held-out people (never trained on) for the open-set report: a faces dir with a
    manifest.csv (faces contract) or a class-per-folder photo dir (faces are then detected
    with the model's own extract params). Trained class names are excluded automatically."""

    path: str = "../shared/datasets/lfw-subset"
    max_per_person: int = 10
    seed: int = 42
    calibration_share: float = Field(0.5, ge=0.0, lt=1.0)  # people used to set the threshold
    prior: float = Field(0.2, gt=0.0, lt=1.0)  # expected share of faces seen that are unknown


class PredictParams(Section):
    registered_model: str = "starrec-pyfunc"  # pyfunc (detect + classify + threshold)
    alias: str = "champion"  # the registry alias `starrec predict` loads by default
    score: Literal["max_prob", "margin"] = "max_prob"
    target_precision: float = 0.95  # on the val split: share of named faces that are right
    unknown: UnknownPeopleParams = UnknownPeopleParams()
    batch_size: int = 64
    top_k: int = 3
    video_every: int = 5  # classify every Nth video frame
    max_frames: int = 0  # 0 = whole video; camera default 300
    max_image_bytes: int = 10_000_000  # serving payload cap per image (decoded bytes)
    max_image_pixels: int = 40_000_000


# --- pretrain / enrol -----------------------------------------------------------------


class PretrainAugment(Section):
    """Online augmentation while pretraining (Keras preprocessing layers, train batches only)."""

    flip: bool = True
    rotation_deg: float = 10.0
    zoom: float = 0.1
    translation: float = 0.08
    contrast: float = 0.3
    brightness: float = 0.2


class GalleryParams(Section):
    """Few-shot enrolment: class prototypes (mean embeddings) beside the backbone."""

    unknown_accept: float = 0.05  # threshold: at most this share of unknown people's faces named
    max_impostors: int = 2000  # held-out public faces kept for calibrating that threshold


class PretrainParams(Section):
    """Face-embedding backbone trained on a public identity set (`datasets.public_faces`) with
    an additive-angular-margin (ArcFace) head; the star set's people are excluded by name."""

    data: Path = Path("data/public/tfrecords")  # the public set's write_tfrecords output
    embedding_dim: int = 128
    widths: list[int] = [16, 32, 64, 128]  # conv blocks (two 3x3 convs + pool each)
    dropout: float = 0.2
    l2: float = 5e-4
    arc_scale: float = 20.0  # ArcFace s
    arc_margin: float = 0.2  # ArcFace m (radians)
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 3e-3  # Adam, cosine decay to 0
    augment: PretrainAugment = PretrainAugment()
    holdout_people: float = 0.2  # share of identities held out for verification
    pairs: int = 1000  # same-person and different-person pairs each, from held-out people
    seed: int = 42
    registered_model: str = "starrec-backbone"
    gallery: GalleryParams = GalleryParams()


class Config(Section):
    paths: Paths = Paths()
    download: DownloadParams = DownloadParams()
    extract: ExtractParams = ExtractParams()
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")
    split: SplitParams = SplitParams()
    tfrecords: TfrecordsParams = TfrecordsParams()
    augment: AugmentParams = AugmentParams()
    train: TrainParams = TrainParams()
    mlflow: MlflowParams = MlflowParams()
    evaluate: EvaluateParams = EvaluateParams()
    predict: PredictParams = PredictParams()
    pretrain: PretrainParams = PretrainParams()
    faces: FacesParams | None = None  # required once every section is (None: code needing it fails)
    clean: CleanParams | None = None  # required once every section is
    # Named data sets run through the same stages with these overrides (e.g. `public_faces`
    # for pretraining): `python pipelines/<stage>.py --dataset public_faces`.
    datasets: dict[str, dict[str, Any]] = {}


class ConfigError(ValueError):
    """params.yaml is missing, unreadable or has a wrong key/value."""


def load_config(path: str | Path = "params.yaml", dataset: str | None = None) -> Config:
    """Read and validate params.yaml; errors name the file and the offending key.

    With `dataset`, that entry of `datasets:` is deep-merged over the top-level sections, so
    the same stage code builds another data set into other paths. Every entry is validated
    up front, so a typo in any of them fails at once.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read params ({exc})") from exc
    base = _validate(raw, path, "")
    merged = {name: _validate(_deep_merge(raw, over), path, f"datasets.{name}.")
              for name, over in base.datasets.items()}
    if dataset is None:
        return base
    if dataset not in merged:
        raise ConfigError(f"{path}: no data set {dataset!r} under `datasets:` "
                          f"(have: {', '.join(merged) or 'none'})")
    return merged[dataset]


def _validate(raw: dict[str, Any], path: Path, where: str) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{where}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: invalid params ({problems})") from exc


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
