"""A DVC remote round trip: the tiny pipeline's outputs (data, faces, TFRecords, models) are
pushed to a local-directory remote, the git repo is cloned into a fresh directory, `dvc pull`
brings every output back byte for byte, and `dvc status` there is clean."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from helpers.dvc_repo import run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]  # may run the shared pipeline


def cached_outs(repo: Path) -> list[str]:
    """Paths of the outputs dvc.lock says are in the DVC cache (cache: false ones live in git)."""
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    paths = []
    for name, stage in lock.items():
        uncached = set()
        defined = dvc_yaml["stages"][name.split("@")[0]]  # `foreach` stages: name@key
        defined = defined.get("do", defined)
        for out in defined.get("outs", []) + defined.get("metrics", []):
            if isinstance(out, dict) and not next(iter(out.values())).get("cache", True):
                uncached.add(next(iter(out)))
        paths += [o["path"] for o in stage.get("outs", []) if not _templated_in(o["path"], uncached)]
    return sorted(set(paths))


def _templated_in(path: str, uncached: set[str]) -> bool:
    # dvc.yaml holds `${paths.models}/run.json`, dvc.lock the resolved `models/run.json`
    return any(path.endswith(entry.split("}", 1)[-1]) for entry in uncached)


def tree_md5(root: Path) -> dict[str, str]:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root.parent)): hashlib.md5(p.read_bytes()).hexdigest() for p in files}


def test_push_clone_pull_gives_identical_outputs(pipeline_run, tmp_path: Path) -> None:
    repo = pipeline_run.repo
    remote = tmp_path / "dvc-remote"
    run(["dvc", "remote", "add", "-d", "shared", str(remote)], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline outputs + remote"], repo)

    outs = cached_outs(repo)
    assert {"data/raw", "data/embeddings", "data/tfrecords", "models/model.keras"} <= set(outs)
    before = {}
    for out in outs:
        before.update(tree_md5(repo / out))

    pushed = run(["dvc", "push"], repo)
    assert "pushed" in pushed.stdout
    assert any(remote.rglob("*")), "remote is empty after dvc push"
    assert "in sync" in run(["dvc", "status", "--cloud"], repo).stdout

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "models/model.keras").exists()  # only git-tracked files so far
    # outputs named, not there yet
    assert "deleted" in run(["dvc", "status", "dvc.yaml"], clone).stdout
    run(["dvc", "pull", "dvc.yaml"], clone)  # the default pipeline's (research never ran)

    after = {}
    for out in outs:
        assert (clone / out).exists(), f"{out} not pulled"
        after.update(tree_md5(clone / out))
    assert after == before
    # the default pipeline's (research/dvc.yaml never ran here)
    status = run(["dvc", "status", "dvc.yaml"], clone).stdout
    assert "Data and pipelines are up to date" in status, status
    # a new clone needs nothing re-run: the pulled outputs match dvc.lock
    dry = run(["dvc", "repro", "--dry"], clone).stdout
    assert "Running stage" not in dry, dry
