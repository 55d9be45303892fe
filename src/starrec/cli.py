"""`starrec` command line: thin typer commands over the same functions the stages call.

Heavy imports (TensorFlow, OpenCV) happen inside each command so `starrec --help` is instant;
a command that needs TensorFlow imports it first through `quiet_tensorflow`, which keeps its
start-up messages off the terminal.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from starrec.log import setup_logging

log = logging.getLogger("starrec")
# plain help: typer's rich help labels every flag `<bool>`; click's shows --flag/--no-flag
app = typer.Typer(help="Star face recognition: pipeline helpers and prediction.",
                  no_args_is_help=True, rich_markup_mode=None)


def quiet_tensorflow() -> None:
    """Import TensorFlow now (seconds), without its start-up noise: importing starrec
    installed the quiet import (starrec.log.QuietTensorflowImport)."""
    import tensorflow  # noqa: F401


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    setup_logging("DEBUG" if verbose else "INFO")


@app.command()
def version() -> None:
    """Print the installed starrec version."""
    from importlib.metadata import version as pkg_version

    typer.echo(pkg_version("starrec"))


@app.command()
def predict(
    paths: list[str] = typer.Argument(None, help="Photos, folders (searched recursively) or videos."),
    model: str = typer.Option(None, "--model", "-m",
                              help="models:/ or runs:/ URI of the pyfunc model, a .keras file "
                                   "(meta JSON beside it), or models/gallery.json (the stars "
                                   "`starrec enroll` added). Default: the registry's champion."),
    out: str = typer.Option("predictions", "--out", "-o", help="Output folder."),
    camera: int = typer.Option(None, "--camera", help="Read this camera instead of files."),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (registry, limits)."),
) -> None:
    """Name the stars in photos, folders, videos or a camera; faces of others are `unknown`."""
    from starrec.config import ConfigError, load_config
    from starrec.predict.model_io import ModelLoadError
    from starrec.predict.predict import (
        PredictError,
        collect_inputs,
        predict_camera,
        predict_paths,
    )
    from starrec.serve.load import default_model_uri, load_predictor
    from starrec.tracking import tracking_uri, use_tracking_uri

    try:
        if camera is None and not paths:
            raise PredictError("give photos, folders or videos to predict, or --camera N")
        inputs = collect_inputs(paths) if camera is None else []  # before the model's seconds
        cfg = load_config(params)
        quiet_tensorflow()  # seconds: after the checks that need none
        use_tracking_uri(tracking_uri(cfg.mlflow))
        p = cfg.predict
        uri = model or default_model_uri(p.registered_model, p.alias)
        log.info("model: %s", uri)
        predictor = load_predictor(uri, p.top_k, p.batch_size)
        if camera is not None:
            predict_camera(predictor, camera, Path(out), p)
        else:
            predict_paths(predictor, inputs, Path(out), p)
    except (PredictError, ModelLoadError, ConfigError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc


@app.command()
def cast(
    videos: list[str] = typer.Argument(..., help="Video files."),
    out: str = typer.Option("cast", "--out", "-o",
                            help="Output folder: per video, <video name>/ with cast.csv, "
                                 "tracks.csv and timeline.png."),
    model: str = typer.Option(None, "--model", "-m",
                              help="As for `starrec predict`. Default: the registry's champion."),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (video, registry)."),
) -> None:
    """Who is on screen when: faces tracked through each video, one name per track, people
    the model does not know grouped as unknown-1, unknown-2, ..."""
    from starrec.config import ConfigError, load_config
    from starrec.predict.model_io import ModelLoadError
    from starrec.serve.load import default_model_uri, load_predictor
    from starrec.tracking import tracking_uri, use_tracking_uri
    from starrec.video.run import cast_videos

    try:
        cfg = load_config(params)
        found = [Path(v) for v in videos if Path(v).is_file()]
        for v in videos:  # before the model's seconds
            if not Path(v).is_file():
                log.error("%s: no such file", v)
        if not found:
            raise typer.Exit(1)
        quiet_tensorflow()
        use_tracking_uri(tracking_uri(cfg.mlflow))
        p = cfg.predict
        uri = model or default_model_uri(p.registered_model, p.alias)
        log.info("model: %s", uri)
        predictor = load_predictor(uri, p.top_k, p.batch_size)
        if not cast_videos(predictor, found, Path(out), cfg.video):
            raise typer.Exit(1)
    except (ModelLoadError, ConfigError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc


@app.command()
def inspect(
    path: str = typer.Argument(..., help="A .tfrecord shard or a folder of them."),
    out: str = typer.Option("reports/inspect_preview.png", "--out", "-o",
                            help="Contact-sheet PNG (first faces of each label)."),
    schema: str = typer.Option(None, "--schema",
                               help="schema.json to check against (default: the folder's)."),
) -> None:
    """Count TFRecords per label and split, check every record against the schema, draw a
    contact sheet."""
    quiet_tensorflow()
    from starrec.dataset.inspect import run_inspect

    raise typer.Exit(run_inspect(path, out, schema))


@app.command()
def enroll(
    name: str = typer.Argument(..., help="The star's name (a new class, or more photos of one)."),
    photos: list[str] = typer.Argument(..., help="Photos or folders of photos of that star."),
    model: str = typer.Option(None, "--model", "-m",
                              help="The model whose faces and embedder enrolment uses: a head "
                                   "on embeddings, or models/backbone.keras. The gallery "
                                   "(gallery.json) is kept beside it. Default: model.keras in "
                                   "paths.models."),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (enroll)."),
) -> None:
    """Add a star from a few photos (no retraining): face embeddings become its prototype.
    Predict with it: starrec predict --model models/gallery.json PHOTOS."""
    quiet_tensorflow()
    from starrec.artifacts import MODEL
    from starrec.config import ConfigError, load_config
    from starrec.enroll import EnrollError
    from starrec.enroll.enroll import enroll as add

    try:
        cfg = load_config(params)
        out = add(name, photos, model or cfg.paths.models / MODEL, cfg.enroll.unknown_accept,
                  cfg.predict.max_image_pixels, cfg.predict.batch_size)
    except (EnrollError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{name}: {out['added']} faces enrolled, {len(out['skipped'])} photos skipped; "
               f"stars: {', '.join(out['classes'])}; unknown below cosine {out['threshold']:.3f}")


@app.command()
def unenroll(
    name: str = typer.Argument(..., help="The enrolled star to remove."),
    model: str = typer.Option(None, "--model", "-m",
                              help="The model the gallery is beside. Default: model.keras in "
                                   "paths.models."),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (enroll)."),
) -> None:
    """Remove an enrolled star."""
    quiet_tensorflow()
    from starrec.artifacts import MODEL
    from starrec.config import ConfigError, load_config
    from starrec.enroll import EnrollError
    from starrec.enroll.enroll import unenroll as remove

    try:
        cfg = load_config(params)
        out = remove(name, model or cfg.paths.models / MODEL, cfg.enroll.unknown_accept,
                     cfg.predict.batch_size)
    except (EnrollError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{name}: {out['removed']} faces removed; stars left: "
               f"{', '.join(out['classes']) or 'none'}")


INDEX_HELP = "The library index: a SQLite file or a database URL. Default: library.index."


@app.command()
def scan(
    paths: list[str] = typer.Argument(..., help="Photos, videos and folders (searched "
                                                "recursively)."),
    model: str = typer.Option(None, "--model", "-m",
                              help="As for predict: models:/ or runs:/ URI, a .keras head on "
                                   "embeddings, or a gallery.json. Default: the registry's "
                                   "champion."),
    index: str = typer.Option(None, "--index", help=INDEX_HELP),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (library, predict)."),
) -> None:
    """Index every face of a photo library: box, landmarks, quality, embedding, label (a
    video: one face per track). A re-scan reads only new or changed files; a new model
    re-labels the stored faces."""
    from starrec.config import ConfigError, load_config
    from starrec.library import LibraryError
    from starrec.library.index import Index
    from starrec.library.recognizer import recognizer_of
    from starrec.library.scan import scan as scan_paths
    from starrec.predict.model_io import ModelLoadError
    from starrec.serve.load import default_model_uri, load_predictor
    from starrec.tracking import tracking_uri, use_tracking_uri

    try:
        cfg = load_config(params)
        library = Index(index or cfg.library.index)  # refused before the model's seconds
        quiet_tensorflow()
        use_tracking_uri(tracking_uri(cfg.mlflow))
        p = cfg.predict
        uri = model or default_model_uri(p.registered_model, p.alias)
        rec = recognizer_of(load_predictor(uri, p.top_k, p.batch_size), uri)
        out = scan_paths(paths, rec, library, cfg.library, p.max_image_pixels,
                         video=cfg.video)
    except (LibraryError, ModelLoadError, ConfigError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc
    typer.echo(f"{out.files} files ({out.videos} videos): {out.indexed} read ({out.faces} "
               f"faces), {out.skipped} "
               f"unchanged, {out.duplicates} duplicates, {out.moved} moved, "
               f"{len(out.errors)} unreadable; {out.relabelled} faces re-labelled; "
               f"{out.seconds:.1f} s")


@app.command()
def clusters(
    index: str = typer.Option(None, "--index", help=INDEX_HELP),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (library)."),
) -> None:
    """Group the library's unknown faces by person: clusters largest first, each with a
    contact sheet (library.out/clusters/cN.png) and a proposed merge when it looks like a
    known person. Name one: starrec name c1 "Ada Lovelace"."""
    from rich.console import Console
    from rich.table import Table

    from starrec.config import ConfigError, load_config
    from starrec.library import LibraryError
    from starrec.library.index import Index
    from starrec.library.people import find_clusters

    try:
        cfg = load_config(params)
        found = find_clusters(Index(index or cfg.library.index), cfg.library,
                              cfg.predict.max_image_pixels)
    except (LibraryError, ConfigError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc
    table = Table(title=f"{len(found)} clusters of unknown faces")
    for column in ("cluster", "faces", "best faces", "looks like", "contact sheet"):
        table.add_column(column)
    for c in found:
        table.add_row(c.name, str(len(c.face_ids)), " ".join(map(str, c.face_ids[:3])),
                      f"{c.merge.name} ({c.merge.cosine:.2f})" if c.merge else "",
                      str(c.sheet or ""))
    Console(width=160).print(table)


@app.command()
def name(
    target: str = typer.Argument(..., help="A cluster (c3, from `starrec clusters`) or a face id."),
    person: str = typer.Argument(..., help="The person's name."),
    is_not: bool = typer.Option(False, "--not",
                                help="Record that the face(s) are NOT this person."),
    index: str = typer.Option(None, "--index", help=INDEX_HELP),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (library)."),
) -> None:
    """Name a cluster or one face (enrolled in the library's gallery, the unknown threshold
    recalibrated), or correct a face with --not; the whole library is re-labelled."""
    from starrec.config import ConfigError, load_config
    from starrec.library import LibraryError
    from starrec.library.index import Index
    from starrec.library.people import name_target

    try:
        cfg = load_config(params)
        out = name_target(Index(index or cfg.library.index), target, person, is_not,
                          cfg.library)
    except (LibraryError, ConfigError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc
    said = f"not {person}" if is_not else person
    typer.echo(f"{target}: {out['faces']} faces marked {said}; {out['relabelled']} faces "
               f"re-labelled; {out['labelled']} faces labelled {person}")


@app.command("report-library")
def report_library(
    index: str = typer.Option(None, "--index", help=INDEX_HELP),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (library)."),
) -> None:
    """A static HTML page of the library (opens offline): people with counts and faces,
    unknown clusters, low-confidence faces to review, unreadable photos."""
    from starrec.config import ConfigError, load_config
    from starrec.library import LibraryError
    from starrec.library.index import Index
    from starrec.library.report import write_report

    try:
        cfg = load_config(params)
        out = write_report(Index(index or cfg.library.index), cfg.library,
                           cfg.predict.max_image_pixels)
    except (LibraryError, ConfigError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc
    typer.echo(f"report: {out}")


@app.command()
def search(params: str = typer.Option("params.yaml", "--params",
                                      help="params.yaml (search, mlflow, paths); the DVC repo "
                                           "is its folder.")) -> None:
    """Random hyper-parameter search: `search.trials` queued DVC experiments of
    `search.target`, each an MLflow child run of one parent; the ranked table and the score
    chart go to reports/search/. Apply the best: dvc exp apply NAME && dvc repro."""
    from starrec.config import ConfigError, load_config
    from starrec.errors import StageError
    from starrec.search.dvc_queue import QueueError
    from starrec.search.run import run_search

    try:
        cfg = load_config(params)
        table = run_search(cfg, Path(params).resolve().parent)
    except (ConfigError, QueueError, StageError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc
    if table.empty:
        raise typer.Exit(1)
    typer.echo(table.drop(columns="run_id").to_markdown(index=False, floatfmt=".4g"))


@app.command()
def optimizers(params: str = typer.Option("params.yaml", "--params",
                                          help="params.yaml (train.embedding_head, paths).")
               ) -> None:
    """The optimizer comparison: the embedding head trained with sgd, momentum, adam and
    rmsprop (same seed, data and learning rate); validation loss per epoch, one curve each,
    in reports/search/optimizers.png."""
    quiet_tensorflow()
    from starrec.artifacts import SPLIT_CSV, embeddings_file
    from starrec.config import ConfigError, load_config
    from starrec.search.optimizer_curves import optimizer_curves, plot_optimizer_curves
    from starrec.train.embedding_data import load_embedding_data

    try:
        cfg = load_config(params)
        data = load_embedding_data(cfg.paths.splits / SPLIT_CSV,
                                   cfg.paths.embeddings / embeddings_file(cfg.faces.embedder))
    except (ConfigError, OSError, ValueError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc
    head = cfg.train.embedding_head
    curves = optimizer_curves(data, head, cfg.train.seed)
    out = cfg.paths.reports / "search" / "optimizers.png"
    plot_optimizer_curves(curves, head, out)
    last = curves.groupby("optimizer", sort=False)["val_loss"].last()
    typer.echo("\n".join(f"{name:>9}: final val_loss {v:.4f}" for name, v in last.items()))
    typer.echo(f"chart: {out}")


if __name__ == "__main__":
    app()
