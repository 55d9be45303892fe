"""The library index: photos, their faces and the names given to them, in SQLite (a file,
the default) or PostgreSQL (a URL, for a team), through one SQLAlchemy Core schema.

Each photo is written with its faces in one transaction, so a scan killed at any moment
leaves every photo either fully indexed or not at all. The index records its schema version
and the embedder its vectors came from; another version or embedder is refused, since
distances between vectors of two embedders mean nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from starrec.library import LibraryError

SCHEMA_VERSION = "1"
DIM_KEY, EMBEDDER_KEY, SHA_KEY, VERSION_KEY = "dim", "embedder", "embedder_sha256", "schema"

META = sa.MetaData()
meta_table = sa.Table("library_meta", META,
                      sa.Column("key", sa.String(64), primary_key=True),
                      sa.Column("value", sa.Text, nullable=False))
photos = sa.Table(
    "photos", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.Text, nullable=False, unique=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), index=True),  # None: the file could not be read
    sa.Column("status", sa.String(16), nullable=False),  # ok | no_face | error | duplicate
    sa.Column("reason", sa.Text),
    sa.Column("scanned_at", sa.Float, nullable=False))
faces = sa.Table(
    "faces", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("frame", sa.Integer, nullable=False),  # 0 for a photo; a video's frame number
    sa.Column("box_x", sa.Integer, nullable=False), sa.Column("box_y", sa.Integer, nullable=False),
    sa.Column("box_w", sa.Integer, nullable=False), sa.Column("box_h", sa.Integer, nullable=False),
    sa.Column("landmarks", sa.Text),  # JSON [[x, y] x 5], or null without a landmark detector
    sa.Column("face_size", sa.Integer, nullable=False),
    sa.Column("blur", sa.Float, nullable=False),
    sa.Column("det_score", sa.Float, nullable=False),
    sa.Column("embedding", sa.LargeBinary, nullable=False),  # float32, unit norm
    sa.Column("model_label", sa.String(200), nullable=False),  # the model's own answer
    sa.Column("model_score", sa.Float, nullable=False),
    sa.Column("model_threshold", sa.Float, nullable=False),  # the model's open-set threshold
    sa.Column("model_id", sa.String(80), nullable=False),
    sa.Column("model_uri", sa.Text, nullable=False),
    sa.Column("label", sa.String(200), nullable=False, index=True),  # after names and corrections
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),  # what `score` had to reach (0: named)
    sa.Column("label_source", sa.String(16), nullable=False),  # model | gallery | named | not
    sa.Column("cluster", sa.Integer, index=True))  # unknown faces' cluster, from `clusters`
names = sa.Table(  # a person's name given to one face (by `name`): the library's gallery
    "face_names", META,
    sa.Column("face_id", sa.Integer, sa.ForeignKey("faces.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("is_not", sa.Boolean, nullable=False))  # `name --not`: the face is not him


@dataclass(frozen=True)
class EmbedderId:
    """What an index's vectors were made by."""

    name: str
    sha256: str
    dim: int


def engine_for(where: str | Path) -> Engine:
    """A SQLAlchemy engine: a database URL as given, anything else a SQLite file (its
    folder made); SQLite in WAL mode so readers never block a scan."""
    where = str(where)
    if "://" in where:
        return sa.create_engine(where)
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{where}")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


class Index:
    """One library index; `where` a SQLite path or a database URL."""

    def __init__(self, where: str | Path) -> None:
        self.where = str(where)
        self.engine = engine_for(where)
        try:
            self.meta = {}
            if sa.inspect(self.engine).has_table(meta_table.name):
                with self.engine.connect() as conn:
                    self.meta = dict(conn.execute(sa.select(meta_table.c.key,
                                                            meta_table.c.value)).all())
            version = self.meta.get(VERSION_KEY)
            if version is not None and version != SCHEMA_VERSION:  # before touching its tables
                raise LibraryError(f"{self.where}: library index schema version {version}, "
                                   f"this starrec reads version {SCHEMA_VERSION}; scan into a "
                                   "new index")
            META.create_all(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise LibraryError(f"{self.where}: not a usable library index "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc

    @property
    def embedder(self) -> EmbedderId | None:
        if EMBEDDER_KEY not in self.meta:
            return None
        return EmbedderId(self.meta[EMBEDDER_KEY], self.meta[SHA_KEY], int(self.meta[DIM_KEY]))

    def bind(self, embedder: EmbedderId) -> None:
        """Record the embedder on a new index; refuse an index another embedder filled."""
        have = self.embedder
        if have is None:
            with self.engine.begin() as conn:
                conn.execute(meta_table.insert(), [
                    {"key": VERSION_KEY, "value": SCHEMA_VERSION},
                    {"key": EMBEDDER_KEY, "value": embedder.name},
                    {"key": SHA_KEY, "value": embedder.sha256},
                    {"key": DIM_KEY, "value": str(embedder.dim)}])
            self.meta.update({VERSION_KEY: SCHEMA_VERSION, EMBEDDER_KEY: embedder.name,
                              SHA_KEY: embedder.sha256, DIM_KEY: str(embedder.dim)})
        elif have != embedder:
            raise LibraryError(f"{self.where}: indexed with embedder {have.name} "
                               f"({have.sha256[:12]}, {have.dim}-d), this model embeds with "
                               f"{embedder.name} ({embedder.sha256[:12]}, {embedder.dim}-d); "
                               f"scan into another index")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def photo_states(self) -> dict[str, tuple[int, int]]:
        """path -> (size, mtime_ns) of every photo row: what a re-scan compares files with."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(photos.c.path, photos.c.size, photos.c.mtime_ns))
            return {p: (s, m) for p, s, m in rows}

    def photo_with_sha(self, conn: Connection, sha256: str) -> tuple[int, str] | None:
        """(id, path) of an indexed photo with this content."""
        row = conn.execute(sa.select(photos.c.id, photos.c.path).where(
            photos.c.sha256 == sha256, photos.c.status.in_(("ok", "no_face"))).order_by(
            photos.c.id)).first()
        return None if row is None else (row[0], row[1])

    def face_table(self, where: sa.ColumnElement[bool] | None = None) -> FaceTable:
        """Faces (all, or those `where` selects) with their photo path, embeddings stacked."""
        cols = [faces.c.id, photos.c.path, faces.c.box_x, faces.c.box_y, faces.c.box_w,
                faces.c.box_h, faces.c.face_size, faces.c.blur, faces.c.det_score,
                faces.c.model_label, faces.c.model_score, faces.c.model_threshold,
                faces.c.model_id, faces.c.label, faces.c.score, faces.c.threshold,
                faces.c.label_source, faces.c.cluster, faces.c.embedding]
        query = sa.select(*cols).join(photos, faces.c.photo_id == photos.c.id).order_by(faces.c.id)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        dim = int(self.meta.get(DIM_KEY, 0))
        emb = (np.frombuffer(b"".join(r[-1] for r in rows), np.float32).reshape(len(rows), dim)
               if rows else np.zeros((0, dim), np.float32))
        return FaceTable([dict(zip([c.name for c in cols[:-1]], r[:-1], strict=True))
                          for r in rows], emb)

    def face_names(self) -> tuple[dict[int, str], dict[int, set[str]]]:
        """Names given to faces, and names each face was said not to be."""
        named: dict[int, str] = {}
        refused: dict[int, set[str]] = {}
        with self.engine.connect() as conn:
            for face_id, name, is_not in conn.execute(sa.select(names)):
                if is_not:
                    refused.setdefault(face_id, set()).add(name)
                else:
                    named[face_id] = name
        return named, refused

    def count(self, table: sa.Table, where: sa.ColumnElement[bool] | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(table)
        with self.engine.connect() as conn:
            return int(conn.execute(query if where is None else query.where(where)).scalar())

    def update_labels(self, rows: Iterable[dict]) -> None:
        """Set label, score, label_source (and model_* when given) of faces by id, in one
        transaction."""
        rows = list(rows)
        if not rows:
            return
        keys = [k for k in rows[0] if k != "id"]
        stmt = faces.update().where(faces.c.id == sa.bindparam("_id")).values(
            {k: sa.bindparam(k) for k in keys})
        with self.engine.begin() as conn:
            conn.execute(stmt, [{"_id": r["id"], **{k: r[k] for k in keys}} for r in rows])


@dataclass
class FaceTable:
    """Face rows (dicts) and their embeddings (N, D), in face-id order."""

    rows: list[dict]
    embeddings: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> np.ndarray:
        return np.array([r["id"] for r in self.rows], dtype=np.int64)


def landmarks_json(landmarks) -> str | None:
    return None if landmarks is None else json.dumps([[round(float(x), 2), round(float(y), 2)]
                                                      for x, y in landmarks])


def now() -> float:
    return time.time()
