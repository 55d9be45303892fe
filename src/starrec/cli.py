"""`starrec` command line: thin typer commands over the same functions the stages call.

Heavy imports (TensorFlow, OpenCV) happen inside each command so `starrec --help` is instant.
"""

from __future__ import annotations

import typer

from starrec.log import setup_logging

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
                              help="models:/ or runs:/ URI of the pyfunc model, or a .keras file "
                                   "(meta JSON beside it). Default: the registry's champion."),
    out: str = typer.Option("predictions", "--out", "-o", help="Output folder."),
    camera: int = typer.Option(None, "--camera", help="Read this camera instead of files."),
    params: str = typer.Option("params.yaml", "--params", help="params.yaml (registry name, limits)."),
) -> None:
    """Name the stars in photos, folders, videos or a camera; faces of others are `unknown`."""
    from starrec.predict.predict import run_predict

    run_predict(paths or [], model, out, camera, params)


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


if __name__ == "__main__":
    app()
