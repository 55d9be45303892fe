"""Fixtures every tier shares: the real data sets, small faces dirs cut from them, and a
clean MLflow state around each test. Builders live in `helpers/` (importable modules)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

for _key, _value in {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}.items():
    os.environ.setdefault(_key, _value)

from helpers.faces import FIVE, LFW10, copy_photos, make_faces_dir, make_raw, split_table  # noqa: E402
from helpers.models import OTHERS, PEOPLE, faces_slice, load_faces, train_classifier  # noqa: E402
from helpers.params import section  # noqa: E402
from helpers.paths import REPO_ROOT  # noqa: E402
from helpers.paths import shared_datasets as _shared  # noqa: E402
from helpers.pretrain import PEOPLE as PRETRAIN_PEOPLE  # noqa: E402
from helpers.stages import augment, tfrecords_of  # noqa: E402


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = _shared()
    if not path.is_dir():
        pytest.fail(f"{path}: shared datasets not found (set STARREC_SHARED_DATASETS)")
    return path


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """Faces of 3 LFW people (30/25/20 photos), 32x32 gray."""
    return make_faces_dir(tmp_path_factory.mktemp("faces"), shared_datasets / "lfw-subset",
                          {"Ariel_Sharon": 30, "Hugo_Chavez": 25, "Colin_Powell": 20})


@pytest.fixture(scope="session")
def lfw10(shared_datasets: Path) -> Path:
    return shared_datasets / LFW10


@pytest.fixture(scope="session")
def five(shared_datasets: Path) -> Path:
    return shared_datasets / FIVE


@pytest.fixture(scope="session")
def lfw10_raw(tmp_path_factory: pytest.TempPathFactory, lfw10: Path) -> Path:
    """All 100 photos of lfw-original-10x10 as a raw dir."""
    return make_raw(tmp_path_factory.mktemp("raw_lfw10"), copy_photos(sorted(lfw10.glob("*/*.jpg"))))


@pytest.fixture(autouse=True, scope="session")
def _no_tracking_uri_from_outside() -> Iterator[None]:
    """No test or fixture sees the caller's MLFLOW_TRACKING_URI (it wins over params)."""
    outside = os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    if outside is not None:
        os.environ["MLFLOW_TRACKING_URI"] = outside


@pytest.fixture(autouse=True)
def _mlflow_state() -> Iterator[None]:
    """The global tracking URI (and the MLFLOW_TRACKING_URI that mlflow.set_tracking_uri
    also sets) and any run a test leaves open are put back afterwards, pass or fail."""
    from helpers.tracking import restored

    with restored():
        yield


STORES = [REPO_ROOT / "mlruns", REPO_ROOT / "mlflow.db"]
_STORES_BEFORE = pytest.StashKey[dict]()


def _stores() -> dict[str, object]:
    """What the repo's default stores hold: run folders under `mlruns/` (experiment/run),
    and the sqlite file's size and mtime; compared, not just whether they exist, so a test
    cannot hide its runs in a store that a `dvc repro` here made before."""
    runs, db = STORES
    state: dict[str, object] = {str(p): None for p in runs.glob("*/*")} if runs.is_dir() else {}
    if db.is_file():
        state[str(db)] = (db.stat().st_size, db.stat().st_mtime_ns)
    return state


def _made(before: dict[str, object]) -> list[str]:
    after = _stores()
    return sorted(k for k in after if k not in before or after[k] != before[k])


@pytest.fixture(autouse=True)
def _no_mlflow_store_in_repo() -> Iterator[None]:
    """Every store a test makes lives in its tmp dir: none may add runs to `mlruns/` or
    write to the default `mlflow.db` here."""
    before = _stores()
    yield
    assert _made(before) == [], "a test wrote to MLflow's default store in the repo"


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STORES_BEFORE] = _stores()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fixtures too: a store written here during the session fails the run."""
    made = _made(session.config.stash[_STORES_BEFORE])
    if made:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nERROR: the tests wrote MLflow's default store in the repo: {made[:5]}")


# --- small real models and the data they were trained on (model and stages tiers) ---------


@pytest.fixture(scope="session")
def tfrecord_dir(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TFRecords of the 3-person faces dir: every 4th face of a class test, the next val."""
    table = split_table(faces_dir, lambda rank, n: ("test", "val", "train", "train")[rank % 4])
    return tfrecords_of(faces_dir, table, tmp_path_factory.mktemp("tfr"), shard_size=20)


@pytest.fixture(scope="session")
def aligned_tfrecords(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """TFRecords of 48 LFW faces of 3 people, 112x112 RGB (the input of SFace in Keras):
    half train, a quarter val, a quarter test."""
    faces = make_faces_dir(tmp_path_factory.mktemp("faces112"), shared_datasets / "lfw-subset",
                           {"Colin_Powell": 16, "Tony_Blair": 16, "Hugo_Chavez": 16},
                           image_size=112, channels=3)
    table = split_table(faces, lambda rank, n: ("train", "val", "train", "test")[rank % 4])
    return tfrecords_of(faces, table, tmp_path_factory.mktemp("tfr112"), shard_size=50)


@pytest.fixture(scope="session")
def augmented_dir(tfrecord_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aug") / "augmented"
    augment(section("augment", copies=1), tfrecord_dir, out)
    return out


@pytest.fixture(scope="session")
def people() -> list[str]:
    return PEOPLE


@pytest.fixture(scope="session")
def known_face_dirs(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path
                    ) -> dict[str, Path]:
    """Faces dirs of the 3 known people from disjoint photos: train, val, test."""
    lfw = shared_datasets / "lfw-subset"
    return {name: faces_slice(tmp_path_factory.mktemp(name), lfw, PEOPLE, a, b)
            for name, (a, b) in {"train": (0, 40), "val": (40, 58), "test": (58, 76)}.items()}


@pytest.fixture(scope="session")
def known_splits(known_face_dirs: dict[str, Path]) -> dict[str, tuple]:
    return {name: load_faces(d) for name, d in known_face_dirs.items()}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, known_splits: dict[str, tuple]) -> Path:
    """model.keras + model_meta.json, as the train stage writes them."""
    return train_classifier(*known_splits["train"], tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def unknown_faces_dir(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """A faces dir of 4 LFW people the model never saw (15 photos each) plus one known
    person, whom the open-set report must leave out by name."""
    return faces_slice(tmp_path_factory.mktemp("unknown"), shared_datasets / "lfw-subset",
                       [*OTHERS, PEOPLE[0]], 0, 15)


@pytest.fixture(scope="session")
def unknown_faces_arrays(unknown_faces_dir: Path):
    x, y = load_faces(unknown_faces_dir)
    return x[y == -1]


@pytest.fixture(scope="session")
def public_faces(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """Faces of 6 LFW people (24 photos each): a public data set for pretraining."""
    return make_faces_dir(tmp_path_factory.mktemp("public_faces"),
                          shared_datasets / "lfw-subset", PRETRAIN_PEOPLE)


@pytest.fixture(scope="session")
def public_tfrecords(tmp_path_factory: pytest.TempPathFactory, public_faces: Path) -> Path:
    """The public faces through the write_tfrecords stage (a 60/20/20 photo split)."""
    table = split_table(public_faces, lambda rank, n: ("train", "train", "train", "val",
                                                       "test")[rank % 5])
    return tfrecords_of(public_faces, table, tmp_path_factory.mktemp("public"), shard_size=50)
