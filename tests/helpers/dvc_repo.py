"""Build a throwaway git + DVC repo holding this project's pipeline, for `dvc repro` tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from helpers.params import deep_update
from helpers.paths import REPO_ROOT

BIN = Path(sys.executable).parent


def repo_env(repo: Path) -> dict[str, str]:
    """The stages import the repo copy's own src/ (what DVC hashed), not this checkout's."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo / "src")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(
        DVC_NO_ANALYTICS="1", MLFLOW_DISABLE_TELEMETRY="true", TF_CPP_MIN_LOG_LEVEL="2",
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
    )
    return env


def run(cmd: list[str], cwd: Path, check: bool = True, **env: str
        ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env={**repo_env(cwd), **env}, text=True, capture_output=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_repo(dest: Path, params_update: dict, files: dict[str, str] | None = None) -> Path:
    """Copy the dvc.yaml files, params.yaml (deep-updated), pipelines/ and src/ into a fresh git+DVC
    repo, plus `files` (path -> text), all committed."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", ".gitignore", "research/dvc.yaml"):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, dest / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("pipelines", "src", "urls"):
        shutil.copytree(REPO_ROOT / name, dest / name, ignore=skip)
    params = deep_update(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), params_update)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for name, text in (files or {}).items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(text)
    run(["git", "init", "-q"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["dvc", "config", "core.analytics", "false"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "init"], dest)
    return dest


def stages_run(repro_output: str) -> list[str]:
    """Names of the stages a `dvc repro` actually executed."""
    return [line.split("'")[1] for line in repro_output.splitlines() if line.startswith("Running stage")]
