"""Atomic writes: all or nothing, and outputs readable like any other file."""

import os
import shutil
import stat

import pytest

from starrec.io import INCOMPLETE, atomic_dir, atomic_path, write_json_atomic


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_file_replaces_on_success_with_usual_mode(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json_atomic(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_atomic_file_failure_leaves_old_content_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_swaps_whole_dir_or_keeps_the_old_one(tmp_path):
    target = tmp_path / "shards"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~_umask()
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_dir(target) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shards"]


def test_temps_of_dead_processes_are_swept_live_ones_kept(tmp_path):
    """A kill -9 leaves `.<name>.tmp-<pid>-<n>`; the next write of that output removes it
    when the pid is gone, and leaves a running process's temp alone."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".faces.tmp-{dead}-0"
    (stale / "a").mkdir(parents=True)
    stale_file = tmp_path / f".faces.tmp-{dead}-1"
    stale_file.write_text("half")
    live = tmp_path / f".faces.tmp-{os.getppid()}-0"
    live.mkdir()
    other = tmp_path / f".facesX.tmp-{dead}-0"
    other.mkdir()
    with atomic_dir(tmp_path / "faces") as tmp:
        (tmp / "b").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["faces", live.name, other.name])


def test_atomic_dir_marks_a_new_output_incomplete_while_it_is_written(tmp_path):
    """Where there is no previous output (first run; `dvc repro` deleted it), the build is
    inside a placeholder target with the INCOMPLETE marker, so a kill -9 leaves nothing but
    an output DVC sees as modified (and clears); an error removes the placeholder again."""
    target = tmp_path / "splits"
    with atomic_dir(target) as tmp:
        assert tmp.parent == target
        assert sorted(p.name for p in target.iterdir()) == sorted([tmp.name, INCOMPLETE])
        (tmp / "split.csv").write_text("x")
    assert [p.name for p in target.iterdir()] == ["split.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["splits"]
    shutil.rmtree(target)
    with pytest.raises(RuntimeError), atomic_dir(target):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
