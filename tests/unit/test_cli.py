"""The command line's help: every command lists its options, boolean ones as flags."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from starrec.cli import app

COMMANDS = ["predict", "cast", "inspect", "enroll", "unenroll", "scan", "clusters", "name",
            "report-library", "search", "optimizers", "version"]


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_help_shows_flags_as_flags(command: list[str]) -> None:
    res = CliRunner().invoke(app, [*command, "--help"])
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.output and "--help" in res.output
    if not command:
        assert "-v, --verbose" in res.output and all(c in res.output for c in COMMANDS)


def test_inspect_help_names_its_output() -> None:
    res = CliRunner().invoke(app, ["inspect", "--help"])
    assert "[default: reports/inspect_preview.png]" in " ".join(res.output.split())
