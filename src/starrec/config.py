"""Typed configuration: params.yaml is read once, here, and passed down as a `Config`.

params.yaml is the only place a knob's value is written: no field here has a default, so a
missing key is an error instead of a second, silently different value. Types and ranges are
checked; unknown keys are refused. Every error is one line naming the file and the key.

Data sets: `datasets.<name>` holds what differs between the data sets the data stages
build (their paths and download source); the selected one is merged into `paths` and
`download`, so a stage reads `cfg.paths.raw` whatever data set it builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from starrec.artifacts import PUBLIC, STARS

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]  # a fraction, 0 and 1 included
OpenShare = Annotated[float, Field(gt=0, lt=1)]  # a fraction strictly between 0 and 1
Name = Annotated[str, Field(min_length=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- paths ----------------------------------------------------------------------------


class DataPaths(Section):
    """The data stages' outputs of one data set (`datasets.<name>.paths`)."""

    raw: Path
    faces: Path
    validation: Path
    splits: Path
    tfrecords: Path
    embeddings: Path  # per embedder <name>.npz, meta.json, clean.csv, flagged.png


class Paths(DataPaths):
    """Stage outputs; dvc.yaml reads the same keys through `${...paths.*}` templating."""

    augmented: Path
    models: Path
    reports: Path


# --- download -------------------------------------------------------------------------


class HttpParams(Section):
    workers: PosInt  # parallel downloads
    timeout_s: PosFloat  # connect and read timeout, per attempt
    retries: NonNegInt  # on connection errors, timeouts and 5xx (never on 4xx)
    backoff_factor: NonNegFloat  # sleep backoff_factor * 2**(attempt-1) between retries
    max_bytes: PosInt  # per image; bigger bodies are recorded `too_large`


class UrlsSource(Section):
    """The original exercise's format: `<dir>/<star>_urls.txt`, one URL per line."""

    dir: Path
    stars: list[Name]


class LfwSource(Section):
    """The funneled LFW archive: the mirror and sha256 of scikit-learn's `fetch_lfw_people`
    (its default, funneled=True, i.e. `FUNNELED_ARCHIVE` in sklearn/datasets/_lfw.py)."""

    url: Name
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
    filename: Name  # name of the verified copy in `cache_dir`


class FolderSource(Section):
    """A class-per-folder directory, or a .zip / .tar.gz file or URL of one."""

    path: Name


class ArchiveLimits(Section):
    """Caps for any archive extracted (LFW, folder archives); also the archive download cap."""

    max_files: PosInt
    max_total_bytes: PosInt
    max_member_bytes: PosInt


class DatasetDownload(Section):
    """What one data set downloads (`datasets.<name>.download`)."""

    source: Literal["urls", "lfw", "folder"]
    classes: list[Name]  # explicit class list; empty = every class the source has
    min_images_per_class: NonNegInt  # keep classes with at least this many ok images
    folder: FolderSource


class DownloadParams(DatasetDownload):
    """The selected data set's download knobs plus the ones all data sets share."""

    cache_dir: Path  # verified downloads kept between runs (resume)
    conflicts: Literal["drop_both", "keep_first"]  # one photo under two classes
    max_image_pixels: PosInt  # bigger photos are refused before decoding (download, extract)
    http: HttpParams
    urls: UrlsSource
    lfw: LfwSource
    archive: ArchiveLimits


class DatasetParams(Section):
    paths: DataPaths
    download: DatasetDownload


# --- extract_faces --------------------------------------------------------------------


class HaarParams(Section):
    cascade: Name  # a file in cv2.data.haarcascades
    scale_factor: Annotated[float, Field(gt=1)]
    min_neighbors: NonNegInt
    min_size: PosInt  # in detection-image pixels (min_face_size, scaled, may raise it)


class MtcnnParams(Section):
    min_confidence: Share


class YunetParams(Section):
    """cv2.FaceDetectorYN knobs (OpenCV zoo YuNet)."""

    score_threshold: float = Field(gt=0, lt=1)  # faces scored below are dropped
    nms_threshold: float = Field(gt=0, lt=1)  # IoU above which the weaker box is suppressed
    top_k: int = Field(gt=0)  # candidates kept before NMS


class ExtractParams(Section):
    detector: Literal["haar", "mtcnn", "yunet"]
    haar: HaarParams
    mtcnn: MtcnnParams
    yunet: YunetParams
    detect_max_side: PosInt  # photos are downscaled to this before detection
    policy: Literal["largest", "all", "most_confident"]
    margin: NonNegFloat  # fraction of the box side added on every side
    min_face_size: PosInt  # in original-photo pixels
    image_size: PosInt
    color_mode: Literal["gray", "rgb"]
    n_jobs: PosInt
    preview_per_class: PosInt


# --- pretrained face models (faces/model_files, detectors, align, embed) ----------------


class FaceModelsParams(Section):
    """Where pretrained face-model files come from; faces/model_files.py knows each file."""

    cache_dir: Path  # URL downloads, kept only when their sha256 matches
    paths: dict[str, Path]  # model name -> explicit file, used instead of package copy or URL


class FacesParams(Section):
    """Pretrained detection with landmarks, alignment and embeddings (issue 11)."""

    models: FaceModelsParams
    embedder: Literal["sface", "sface_keras", "dlib", "own"]
    backbone: Path  # the `own` embedder's Keras file (the pretrain stage's output)


class FaceCacheParams(Section):
    """Per-photo results of extract_faces and embed kept between runs (faces/result_cache.py):
    not a stage input, so neither knob re-runs anything."""

    dir: Path
    max_mb: PosInt  # least recently used entries go above this

    @property
    def max_bytes(self) -> int:
        return self.max_mb << 20


class EmbedParams(Section):
    """The embed stage: every ok face embedded by each embedder; the first one cleans."""

    # `own` is not offered: its backbone.keras comes from pretrain, which the default
    # `dvc repro` does not run, so the stage could not declare it as an input
    embedders: list[Literal["sface", "sface_keras", "dlib"]] = Field(min_length=1)
    flagged_per_class: PosInt  # faces per class on flagged.png


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
    min_images_per_class: NonNegInt  # the smallest face: extract.min_face_size, every face it keeps
    max_face_size: PosInt
    min_blur_var: NonNegFloat  # Laplacian variance below this counts as blurry
    max_blur_share: Share  # at most this share of faces may be blurry; 1.0 = no blur gate


class SplitParams(Section):
    """Shares of each class per split (they must sum to 1) over leakage groups."""

    train: OpenShare
    val: OpenShare
    test: OpenShare
    seed: int
    phash_max_distance: NonNegInt  # faces this close (Hamming bits) are one group

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitParams:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {self.train + self.val + self.test:g}")
        return self


class TfrecordsParams(Section):
    shard_size: PosInt  # records per shard at most; shards are balanced


class RangeOp(Section):
    """An augmentation op, applied with a value drawn uniformly from [low, high]."""

    enabled: bool
    low: float
    high: float

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

    copies: PosInt  # augmented images written per train image
    seed: int
    flip: bool  # horizontal, with probability 1/2
    brightness: RangeOp
    contrast: RangeOp
    saturation: RangeOp
    hue: RangeOp
    rotation_deg: RangeOp
    zoom: RangeOp
    translation: RangeOp


# --- train / evaluate / tracking -------------------------------------------------------


class OptimizerParams(Section):
    name: Literal["sgd", "momentum", "adam", "rmsprop"]
    learning_rate: PosFloat
    momentum: Annotated[float, Field(ge=0, lt=1)]


class ScheduleParams(Section):
    name: Literal["constant", "exponential", "time_decay", "step", "cosine"]
    decay_rate: PosFloat  # exponential: lr * rate ** (epoch // decay_epochs)
    decay_epochs: PosInt  # exponential step length; step: halve every N epochs
    staircase: bool
    decay: NonNegFloat  # time_decay: lr / (1 + decay * epoch)
    drop: PosFloat  # step: factor per `decay_epochs`
    min_lr: NonNegFloat  # cosine floor


class TransferParams(Section):
    backbone: Name
    weights: Name  # imagenet | none | pretrained | path to a weights file
    fine_tune_layers: NonNegInt  # 0 = frozen feature extractor


class EmbeddingHeadParams(Section):
    """A softmax classifier on face embeddings (train/embedding_head.py)."""

    hidden: int = Field(ge=0)  # units of one hidden ReLU layer; 0 = none (multinomial logistic)
    dropout: float = Field(ge=0, lt=1)  # on the layer before the softmax
    l2: float = Field(ge=0)  # kernel regulariser of every Dense layer
    epochs: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    optimizer: Literal["sgd", "momentum", "adam", "rmsprop"]
    momentum: float = Field(ge=0, lt=1)  # optimizer momentum only
    batch_size: int = Field(gt=0)


class ChanceRange(Section):
    """A degradation applied with probability `p`, at a value drawn uniformly from [low, high]."""

    p: Share
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> ChanceRange:
        if self.low > self.high:
            raise ValueError(f"low {self.low} > high {self.high}")
        return self


class DegradeParams(Section):
    """Random degradation of training crops (faces/degrade.augment_batch), each op with its
    probability: brightness added to 0-255 pixels, contrast a factor around mid-gray,
    downscale_px the face's side in pixels, gaussian_sigma and motion_length in pixels of the
    crop, jpeg_quality 1-100; occlude hides the lower face or a random rectangle (half each)."""

    flip: Share
    occlude: Share
    grayscale: Share
    brightness: ChanceRange
    contrast: ChanceRange
    downscale_px: ChanceRange
    gaussian_sigma: ChanceRange
    motion_length: ChanceRange
    jpeg_quality: ChanceRange

    @model_validator(mode="after")
    def _in_range(self) -> DegradeParams:
        for name in ("downscale_px", "motion_length", "jpeg_quality"):
            if getattr(self, name).low < 1:
                raise ValueError(f"{name}.low must be at least 1")
        if self.jpeg_quality.high > 100 or self.contrast.low < 0 or self.gaussian_sigma.low <= 0:
            raise ValueError("jpeg_quality.high <= 100, contrast.low >= 0, gaussian_sigma.low > 0")
        return self


class FinetuneParams(Section):
    """Model finetune: SFace in Keras + a CosFace head over the stars (train/finetune.py): the
    head trained with the backbone frozen, then the top `unfreeze_blocks` conv blocks and the
    embedding layers with it. The gpu_* epochs replace the CPU ones when a GPU is found."""

    # CosFace s: logits = s * cosine, probabilities their softmax; at most 32, so the log of
    # the smallest probability (about -2s) stays within float32 (the loss reads it back)
    scale: Annotated[float, Field(gt=0, le=32)]
    margin: Annotated[float, Field(ge=0, lt=1)]  # CosFace m: off the true class's cosine (training)
    warmup_epochs: PosInt
    epochs: PosInt
    gpu_warmup_epochs: PosInt
    gpu_epochs: PosInt
    unfreeze_blocks: Annotated[int, Field(ge=0, le=14)]  # of conv_1 ... conv_14, from the top
    optimizer: Literal["sgd", "momentum", "adam", "rmsprop"]
    momentum: Annotated[float, Field(ge=0, lt=1)]  # optimizer momentum only
    warmup_learning_rate: PosFloat
    learning_rate: PosFloat  # after warm-up: small, not to wreck the pretrained weights
    degrade: DegradeParams


class TrainParams(Section):
    model: Literal["fcn", "star_cnn", "transfer", "embedding_head", "finetune"]
    epochs: PosInt
    batch_size: PosInt
    optimizer: OptimizerParams
    schedule: ScheduleParams
    l2: NonNegFloat
    dropout: Annotated[float, Field(ge=0, lt=1)]
    batch_norm: bool
    early_stopping_patience: NonNegInt
    class_weights: bool
    online_augmentation: bool
    use_augmented: bool  # train on train + train_aug shards
    transfer: TransferParams
    embedding_head: EmbeddingHeadParams
    finetune: FinetuneParams
    seed: int
    deterministic: bool
    mixed_precision: bool
    strategy: Literal["default", "mirrored", "multi_worker"]


class MlflowParams(Section):
    tracking_uri: Name  # MLFLOW_TRACKING_URI overrides
    experiment: Name
    registered_model: Name
    log_locally_if_unreachable: bool
    connect_timeout_s: PosFloat


GateMetric = Literal["accuracy", "top_k_accuracy", "macro_f1", "macro_precision",
                     "macro_recall", "macro_iou", "micro_f1", "micro_iou"]


class GateParams(Section):
    """`predict.alias` moves only if the candidate beats champion and baseline by `margin`."""

    metric: GateMetric
    margin: NonNegFloat


Severity = Literal["px24", "px16", "blur", "jpeg20", "occluded", "combined"]  # faces/degrade.py


class RobustnessParams(Section):
    """The test faces scored again at named degradations (evaluate/robustness.py), and the
    fair baseline: the model's head retrained on train faces plus `augmented_copies` copies
    degraded at random by `train.finetune.degrade`."""

    severities: Annotated[list[Severity], Field(min_length=1)]  # besides clean
    seed: int  # draws what is random in a severity (the occluder's colour) and the copies
    augmented_copies: NonNegInt  # per train face; 0 = no fair baseline


class EvaluateParams(Section):
    top_k: PosInt
    batch_size: PosInt
    baseline_components: PosInt  # PCA components (eigenfaces), capped by the train size
    baseline_C: Annotated[list[PosFloat], Field(min_length=1)]  # SVC grid, 3-fold CV
    baseline_gamma: Annotated[list[PosFloat | Literal["scale"]], Field(min_length=1)]
    seed: int
    misclassified_max: NonNegInt  # faces shown in reports/misclassified.png
    few_shot: PosInt  # train photos per class for the few-shot prototype score
    few_shot_draws: PosInt  # seeded draws of those photos, scores averaged
    robustness: RobustnessParams
    gate: GateParams


# --- calibrate / predict / serve ------------------------------------------------------


class UnknownPeopleParams(Section):
    """Held-out people (never trained on) for the open-set report: a faces dir with a
    manifest.csv (faces contract) or a class-per-folder photo dir (faces are then detected
    with the model's own extract params). Trained class names are excluded automatically."""

    path: Name
    max_per_person: PosInt
    seed: int
    calibration_share: Annotated[float, Field(ge=0, lt=1)]  # people used to set the threshold
    prior: OpenShare  # expected share of faces seen that are unknown


class PredictParams(Section):
    registered_model: Name  # pyfunc (detect + classify + threshold)
    alias: Name  # the alias a promoted model carries; what `starrec predict` loads
    score: Literal["max_prob", "margin"]
    target_precision: Annotated[float, Field(gt=0, le=1)]  # on val: named faces that are right
    unknown: UnknownPeopleParams
    batch_size: PosInt
    top_k: PosInt
    video_every: PosInt  # classify every Nth video frame
    max_frames: NonNegInt  # 0 = whole video; a camera then reads 300 frames
    max_image_bytes: PosInt  # serving payload cap per image (decoded bytes)
    max_image_pixels: PosInt  # any photo decoded for prediction, enrolment or serving


class VideoQuality(Section):
    """A face's vote weight: detector score x size term x sharpness term, each term capped at 1
    (a face this big and this sharp votes with its full score)."""

    full_size: PosInt  # face side, pixels
    full_sharpness: PosFloat  # variance of the crop's Laplacian


class VideoParams(Section):
    """`starrec cast`: faces tracked through a video, one identity per track, a cast list."""

    detect_every: PosInt  # detect and name faces every Nth frame; optical flow between
    detect_max_side: PosInt  # longer side of the copy the detector sees (the model's at most)
    min_face_size: PosInt  # smaller faces (crowds, posters) are no cast members
    cut_distance: OpenShare  # colour-histogram distance between frames that is a shot cut
    iou_weight: Share  # association similarity = w * box IoU + (1 - w) * embedding cosine
    min_similarity: OpenShare  # a detection joins a track only at or above this
    miss_budget: NonNegInt  # detection rounds a track may go unmatched before it ends
    min_detections: PosInt  # tracks with fewer named faces are dropped (false detections)
    flow_points: PosInt  # corners followed per face between detections
    quality: VideoQuality
    unknown_distance: OpenShare  # cosine distance under which unknown tracks are one person


# --- enrol / pretrain -----------------------------------------------------------------


class PretrainAugment(Section):
    """Online augmentation while pretraining (Keras preprocessing layers, train batches only)."""

    flip: bool
    rotation_deg: NonNegFloat
    zoom: Annotated[float, Field(ge=0, lt=1)]
    translation: Annotated[float, Field(ge=0, lt=1)]
    contrast: Share
    brightness: Share


class EnrollParams(Section):
    """`starrec enroll`: stars added as prototypes (mean embeddings) beside a model."""

    unknown_accept: OpenShare  # threshold: at most this share of unknown people's faces named


class GalleryParams(Section):
    """The backbone's impostor bank (enrolment on `--model models/backbone.keras`)."""

    max_impostors: PosInt  # held-out public faces kept for calibrating the gallery threshold


class AnnParams(Section):
    """The HNSW index (usearch) of the library's named stars, above `ann_min_gallery` stars."""

    dir: Path  # index files, one per gallery (named by its hash)
    dtype: Literal["f32", "f16", "i8"]  # how the index stores vectors (results re-scored in f32)
    connectivity: PosInt  # HNSW M: links per node
    expansion_add: PosInt  # ef at build time
    expansion_search: PosInt  # ef at query time: recall against speed


class ClusterParams(Section):
    """Unknown faces grouped by face (library/cluster.py)."""

    distance: Annotated[float, Field(gt=0, lt=2)]  # cosine distance at which groups stop merging
    min_size: Annotated[int, Field(ge=2)]  # smaller groups are not listed as clusters
    merge_cosine: Annotated[float, Field(gt=-1, lt=1)]  # centroid this near a star: propose a merge
    sheet_faces: PosInt  # faces on a cluster's contact sheet (best quality first)


class LibraryParams(Section):
    """`starrec scan / clusters / name / report-library`: a photo library's faces."""

    index: Name  # SQLite file, or a database URL (postgresql://...) for a team
    impostors: Path  # the impostor bank the named people's unknown threshold is set on
    unknown_accept: OpenShare  # at most this share of the impostor bank's faces get a name
    ann_min_gallery: PosInt  # more named stars than this: approximate nearest-star search
    ann: AnnParams
    cluster: ClusterParams
    out: Path  # contact sheets and the HTML report
    review_margin: NonNegFloat  # report: named faces whose score is this near the threshold


class PretrainParams(Section):
    """Face-embedding backbone trained on the `public` data set with an additive-angular-margin
    (ArcFace) head; the star data set's people are excluded by name."""

    embedding_dim: PosInt
    widths: Annotated[list[PosInt], Field(min_length=1)]  # conv blocks (two 3x3 convs + pool)
    dropout: Annotated[float, Field(ge=0, lt=1)]
    l2: NonNegFloat
    arc_scale: PosFloat  # ArcFace s
    arc_margin: Annotated[float, Field(ge=0, lt=1.5)]  # ArcFace m (radians)
    epochs: PosInt
    batch_size: PosInt
    learning_rate: PosFloat  # Adam, cosine decay to 0
    augment: PretrainAugment
    holdout_people: OpenShare  # share of identities held out for verification
    pairs: PosInt  # same-person and different-person pairs each, from held-out people
    seed: int
    registered_model: Name
    gallery: GalleryParams


class CompareParams(Section):
    """research/dvc.yaml's compare stage: the embedders scored side by side."""

    embedders: Annotated[list[Literal["sface", "sface_keras", "dlib", "own"]],
                         Field(min_length=1)]


class SearchRange(Section):
    """A number drawn uniformly between low and high, or log-uniformly (scale: log)."""

    low: NonNegFloat
    high: PosFloat
    scale: Literal["log", "linear"]

    @model_validator(mode="after")
    def _ordered(self) -> "SearchRange":
        if self.low >= self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0 (got {self.low})")
        return self


class SearchChoices(Section):
    """One of these values, each equally likely."""

    choices: Annotated[list[str | int | float], Field(min_length=1)]


class SearchParams(Section):
    """`starrec search`: random search, each trial a queued DVC experiment (search/)."""

    trials: int = Field(gt=0)
    jobs: int = Field(gt=0)  # dvc queue start -j
    seed: int
    target: str  # the stage each trial reproduces (dvc exp run --queue TARGET)
    score: str  # the target's MLflow metric the trials are ranked by
    maximize: bool
    space: Annotated[dict[str, SearchRange | SearchChoices], Field(min_length=1)]


class BeamParams(Section):
    """An Apache Beam runner and its pipeline options (`--name value` flags as a mapping)."""

    runner: Name  # DirectRunner | FlinkRunner | SparkRunner | DataflowRunner | ...
    options: dict[str, str | int | float | bool]


class EngineParams(Section):
    """Where extract_faces, embed and write_tfrecords run their per-element work."""

    name: Literal["local", "beam"]
    beam: BeamParams


class Config(Section):
    paths: Paths
    download: DownloadParams
    extract: ExtractParams
    validate_: ValidateParams = Field(alias="validate")
    split: SplitParams
    tfrecords: TfrecordsParams
    augment: AugmentParams
    train: TrainParams
    mlflow: MlflowParams
    evaluate: EvaluateParams
    predict: PredictParams
    video: VideoParams
    enroll: EnrollParams
    library: LibraryParams
    pretrain: PretrainParams
    faces: FacesParams
    face_cache: FaceCacheParams
    embed: EmbedParams
    clean: CleanParams
    compare: CompareParams
    search: SearchParams
    engine: EngineParams
    datasets: dict[str, DatasetParams]


class ConfigError(ValueError):
    """params.yaml is missing, unreadable or has a wrong key/value."""


_DATASETS = TypeAdapter(dict[str, DatasetParams])


def load_config(path: str | Path, dataset: str = STARS) -> Config:
    """Read and validate params.yaml; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no params file in {path.resolve().parent} (run in the "
                          f"project folder, where params.yaml is, or pass --params PATH)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read params ({exc})") from exc
    return parse_config(raw, path, dataset)


def parse_config(raw: dict[str, Any], path: str | Path, dataset: str = STARS) -> Config:
    """Validate params already read (`path` names them in errors), with `dataset`'s
    `datasets:` entry merged into `paths` and `download`."""
    datasets = _checked(lambda: _DATASETS.validate_python(raw.get("datasets")), path,
                        "datasets.")
    for required in (STARS, PUBLIC):
        if required not in datasets:
            raise ConfigError(f"{path}: invalid params (datasets.{required}: missing; the "
                              f"{'model' if required == STARS else 'pretrain'} stages read it)")
    if dataset not in datasets:
        raise ConfigError(f"{path}: no data set {dataset!r} under `datasets:` "
                          f"(have: {', '.join(datasets)})")
    for section, own in (("paths", DataPaths), ("download", DatasetDownload)):
        shadowed = sorted(set(raw.get(section) or {}) & set(own.model_fields))
        if shadowed:
            raise ConfigError(f"{path}: invalid params ({section}.{shadowed[0]}: set per data "
                              f"set, under datasets.<name>.{section})")
    merged = _deep_merge(raw, raw["datasets"][dataset])
    return _checked(lambda: Config.model_validate(merged), path, "")


def _checked(validate: Any, path: str | Path, where: str) -> Any:
    try:
        return validate()
    except ValidationError as exc:
        problems = "; ".join(
            f"{(where + '.'.join(str(p) for p in e['loc'])).rstrip('.')}: {e['msg']}"
            for e in exc.errors())
        raise ConfigError(f"{path}: invalid params ({problems})") from exc


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
