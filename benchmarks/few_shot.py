"""Few-shot star recognition on five-celebrity-faces with a backbone pretrained on LFW-62.

Run: python benchmarks/few_shot.py [--backbone models/backbone.keras] [--epochs N]

Faces are cut with the extract stage's own code (default extract params). Without
--backbone, a backbone is pretrained here exactly as the `pretrain` stage does (LFW people
with >= 20 photos, 20% of them held out), timing included. Prints, on val: eigenfaces + SVM,
pretrained transfer (frozen backbone + softmax head, the train stage's `transfer` model),
logistic regression on embeddings, nearest prototype with all / 5 train photos per star, and
unknown rejection of held-out LFW people at a threshold giving >= 0.95 val precision.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def crops(folder: Path, extract, min_photos: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Largest face per photo, float32 [0, 1] NxHxWxC, with the folder name as label."""
    from PIL import Image

    from starrec.faces.detect import faces_in_image, to_input

    channels = 1 if extract.color_mode == "gray" else 3
    xs, ys = [], []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(person.glob("*.jpg"))
        if len(files) < min_photos:
            continue
        for f in files:
            faces = faces_in_image(np.asarray(Image.open(f).convert("RGB")), extract)
            if faces:
                xs.append(to_input(faces[0].image, channels))
                ys.append(person.name)
    return np.stack(xs), np.array(ys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", type=Path, help="a pretrain-stage backbone.keras (skips pretraining)")
    ap.add_argument("--epochs", type=int, help="pretraining epochs (default: params.yaml)")
    ap.add_argument("--draws", type=int, default=10, help="random 5-shot draws averaged")
    args = ap.parse_args()

    import keras
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    from starrec.calibrate.openset import calibrate
    from starrec.config import load_config
    from starrec.faces.embed import embed, prototypes
    from starrec.pretrain.identities import excluded, split_people
    from starrec.pretrain.train import train_backbone
    from starrec.pretrain.verify import verification
    from starrec.train.models import build_model, load_backbone

    cfg = load_config(ROOT / "params.yaml")
    extract = cfg.extract.model_copy(update={"n_jobs": 1})
    t0 = time.perf_counter()
    xtr, ytr = crops(SHARED / "five-celebrity-faces" / "train", extract)
    xva, yva = crops(SHARED / "five-celebrity-faces" / "val", extract)
    stars = sorted(set(ytr))
    rows: list[tuple[str, str]] = [("five-celebrity faces train / val", f"{len(xtr)} / {len(xva)}")]

    if args.backbone:
        backbone_path = args.backbone
        backbone = keras.saving.load_model(backbone_path, compile=False)
        unknown = np.load(backbone_path.with_name("backbone_impostors.npz"))["embeddings"]
    else:
        xp, yp = crops(SHARED / "lfw-subset", extract, min_photos=20)
        rows.append(("face extraction (s)", f"{time.perf_counter() - t0:.0f}"))
        keep = ~np.isin(yp, excluded(set(yp), stars))
        xp, yp = xp[keep], yp[keep]
        train_people, held = split_people(yp, cfg.pretrain.holdout_people, cfg.pretrain.seed)
        is_train = np.isin(yp, train_people)
        pretrain = cfg.pretrain.model_copy(update={"epochs": args.epochs or cfg.pretrain.epochs})
        backbone, fit = train_backbone(pretrain, xp[is_train],
                                       np.searchsorted(np.array(train_people), yp[is_train]),
                                       Path(tempfile.mkdtemp()) / "checkpoints")
        unknown = embed(backbone, xp[~is_train])
        v = verification(unknown, yp[~is_train], cfg.pretrain.pairs, cfg.pretrain.seed)
        backbone_path = Path("/tmp/few_shot_backbone.keras")
        backbone.save(backbone_path)
        rows += [("LFW identities train / held out", f"{len(train_people)} / {len(held)}"),
                 (f"pretrain {fit['epochs']} epochs on {fit['device']} (s)",
                  f"{fit['train_seconds']:.0f} ({fit['images_per_second']:.0f} img/s)"),
                 ("held-out verification ROC AUC", f"{v['roc_auc']:.3f}"),
                 ("held-out verification accuracy", f"{v['accuracy']:.3f}")]

    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    pca = PCA(n_components=min(50, len(xtr) - 1), whiten=True, random_state=0).fit(flat(xtr))
    svm = SVC(C=10.0).fit(pca.transform(flat(xtr)), ytr)
    rows.append(("eigenfaces + SVM val accuracy", f"{np.mean(svm.predict(pca.transform(flat(xva))) == yva):.3f}"))

    keras.utils.set_random_seed(0)
    labels = np.searchsorted(np.array(stars), ytr)
    tp = cfg.train.model_copy(update={"model": "transfer", "dropout": 0.2, "transfer": (
        cfg.train.transfer.model_copy(update={"weights": "pretrained"}))})
    model = build_model(tp, xtr.shape[1:], len(stars), load_backbone(backbone_path, xtr.shape[1:]))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(xtr, labels, epochs=150, batch_size=32, verbose=0)
    pred = np.array(stars)[model.predict(xva, verbose=0).argmax(1)]
    rows.append(("pretrained transfer (frozen) val accuracy", f"{np.mean(pred == yva):.3f}"))

    etr, eva = embed(backbone, xtr), embed(backbone, xva)
    lr = LogisticRegression(C=10.0, max_iter=5000).fit(etr, ytr)
    rows.append(("embeddings + logistic regression val acc", f"{np.mean(lr.predict(eva) == yva):.3f}"))

    def proto_acc(idx: np.ndarray) -> tuple[float, np.ndarray]:
        classes, protos = prototypes(etr[idx], ytr[idx])
        sims = eva @ protos.T
        return float(np.mean(classes[sims.argmax(1)] == yva)), sims

    acc_all, sims_all = proto_acc(np.arange(len(etr)))
    rows.append(("prototype, all train photos, val acc", f"{acc_all:.3f}"))
    rng = np.random.default_rng(0)
    five = [proto_acc(np.concatenate([rng.choice(np.flatnonzero(ytr == s), 5, replace=False)
                                      for s in stars]))[0] for _ in range(args.draws)]
    rows.append((f"prototype, 5 photos/star, val acc ({args.draws} draws)",
                 f"{np.mean(five):.3f} (min {np.min(five):.3f})"))

    cal = calibrate(sims_all, np.searchsorted(np.array(stars), yva), "max_prob", 0.95)
    unknown_best = (unknown @ prototypes(etr, ytr)[1].T).max(1)
    rows += [("unknown threshold (val precision >= 0.95)",
              f"{cal.rule.threshold:.3f} (precision {cal.precision:.3f}, coverage {cal.coverage:.3f})"),
             (f"unknown LFW faces rejected ({len(unknown)})",
              f"{np.mean(unknown_best < cal.rule.threshold):.3f}")]

    width = max(len(k) for k, _ in rows)
    print(f"\n{'measure':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
