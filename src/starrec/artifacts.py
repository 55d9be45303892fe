"""Names the stages hand each other: artefact files, data set entries, splits, aliases.

One place, so a stage that writes `model.keras` and one that reads it cannot drift apart;
dvc.yaml spells the same names (tests/stages/test_declared.py checks both against a real run).
"""

# data sets (params.yaml `datasets:`): the model stages use STARS, pretrain uses PUBLIC
STARS = "stars"
PUBLIC = "public"

# data stage outputs
MANIFEST = "manifest.csv"  # data/raw and data/faces, each with its own columns
SPLIT_CSV = "split.csv"
LABEL_MAP = "label_map.json"
SCHEMA = "schema.json"
SPLITS = ("train", "val", "test")
# the embed stage's outputs in `paths.embeddings`: embeddings_file(embedder) holds arrays
# face_id (str, N) and x (float32 N x dim, unit norm), rows in faces-manifest order
EMBEDDINGS_META = "meta.json"  # per embedder: dim, licence, input spec, model sha256
CLEAN_CSV = "clean.csv"  # per face: flag, reason, status (faces/clean.py)
FLAGGED_PNG = "flagged.png"


def embeddings_file(embedder: str) -> str:
    return f"{embedder}.npz"
AUGMENTED_SPLIT = "train_aug"

# train / pretrain outputs in `paths.models`
MODEL = "model.keras"
MODEL_META = "model_meta.json"
RUN = "run.json"
HISTORY = "history.csv"
LEARNING_CURVES = "learning_curves.png"
BACKBONE = "backbone.keras"
BACKBONE_META = "backbone_meta.json"
BACKBONE_IMPOSTORS = "backbone_impostors.npz"
BACKBONE_REPORT = "backbone_report.json"
CHECKPOINTS = "checkpoints"  # train's, while it runs (resumable); pretrain's is PRETRAIN_…
PRETRAIN_CHECKPOINTS = "pretrain_checkpoints"

# evaluate / calibrate / report outputs
EVALUATION = "evaluation.json"  # evaluate's full report: per class, gate decision
METRICS = "metrics.json"  # report's headline numbers, what dvc.yaml's `metrics:` declares
MODEL_CARD = "model_card.md"
CHAMPION = "champion.json"  # in `paths.models`: the promoted model the gate compares against
OPEN_SET = "open_set.json"
PYFUNC = "pyfunc.json"

# `starrec enroll`, beside the model it enrols on (model.keras of a head on embeddings, or
# backbone.keras); calibrate writes IMPOSTORS (held-out people's embeddings) for a head
GALLERY_NPZ = "gallery.npz"
GALLERY_JSON = "gallery.json"
IMPOSTORS = "impostors.npz"

# registry alias of every newly trained model (the promoted one's alias is `predict.alias`)
CANDIDATE = "candidate"
