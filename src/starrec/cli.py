"""`starrec` command line: thin typer commands over the same functions the stages call.

Heavy imports (TensorFlow, OpenCV) happen inside each command so `starrec --help` is instant.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from starrec.log import setup_logging

log = logging.getLogger("starrec")
app = typer.Typer(help="Star face recognition: pipeline helpers and prediction.", no_args_is_help=True)


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
def inspect(
    path: str = typer.Argument(..., help="A .tfrecord shard or a folder of them."),
    out: str = typer.Option("inspect_preview.png", "--out", "-o", help="Contact-sheet PNG."),
    schema: str = typer.Option(None, "--schema",
                               help="schema.json to check against (default: the folder's)."),
) -> None:
    """Count TFRecords per label, check every record against the schema, draw a contact sheet."""
    from starrec.dataset.inspect import run_inspect

    raise typer.Exit(run_inspect(path, out, schema))


@app.command()
def enroll(
    name: str = typer.Argument(..., help="The star's name (a new class, or more photos of one)."),
    photos: list[str] = typer.Argument(..., help="Photos or folders of photos of that star."),
    model: str = typer.Option("models/model.keras", "--model", "-m",
                              help="The model whose faces and embedder enrolment uses: a head "
                                   "on embeddings, or models/backbone.keras. The gallery "
                                   "(gallery.json) is kept beside it."),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (enroll)."),
) -> None:
    """Add a star from a few photos (no retraining): face embeddings become its prototype.
    Predict with it: starrec predict --model models/gallery.json PHOTOS."""
    from starrec.config import ConfigError, load_config
    from starrec.enroll import EnrollError
    from starrec.enroll.enroll import enroll as add

    try:
        cfg = load_config(params)
        out = add(name, photos, model, cfg.enroll.unknown_accept, cfg.predict.max_image_pixels,
                  cfg.predict.batch_size)
    except (EnrollError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{name}: {out['added']} faces enrolled, {len(out['skipped'])} photos skipped; "
               f"stars: {', '.join(out['classes'])}; unknown below cosine {out['threshold']:.3f}")


@app.command()
def unenroll(
    name: str = typer.Argument(..., help="The enrolled star to remove."),
    model: str = typer.Option("models/model.keras", "--model", "-m",
                              help="The model the gallery is beside."),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (enroll)."),
) -> None:
    """Remove an enrolled star."""
    from starrec.config import ConfigError, load_config
    from starrec.enroll import EnrollError
    from starrec.enroll.enroll import unenroll as remove

    try:
        cfg = load_config(params)
        out = remove(name, model, cfg.enroll.unknown_accept, cfg.predict.batch_size)
    except (EnrollError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{name}: {out['removed']} faces removed; stars left: "
               f"{', '.join(out['classes']) or 'none'}")


if __name__ == "__main__":
    app()
