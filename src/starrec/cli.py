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


if __name__ == "__main__":
    app()
