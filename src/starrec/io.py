"""Atomic file and directory writes: a stage never leaves a half-written output behind.

Temp siblings are named `.<name>.tmp-<pid>-<n>`, so one left by a killed process (kill -9,
out of memory) is recognised by its dead pid and swept by the next write of that output.
A new output directory is built inside its own placeholder instead (`atomic_dir`), so what a
killed build leaves is the output's, and `dvc repro` clears it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_TEMP = re.compile(r"\.tmp-(\d+)-\d+$")
_seq = itertools.count()


def temp_sibling(target: Path) -> Path:
    """A fresh temp name beside `target`, owned by this process."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{next(_seq)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_stale(target: Path) -> list[Path]:
    """Remove the temp siblings of `target` whose process is gone; returns what was removed."""
    if not target.parent.is_dir():
        return []
    removed = []
    for path in target.parent.iterdir():
        match = _TEMP.search(path.name)
        if (match and path.name.startswith(f".{target.name}.tmp-")
                and not _alive(int(match.group(1)))):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.warning("%s: removed %d temp files left by a killed run (%s)", target, len(removed),
                    ", ".join(p.name for p in removed))
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success rename it over `target`, else delete it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    tmp = temp_sibling(target)
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # the umask's mode
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json_atomic(target: str | Path, obj: Any) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_keras(model: Any, target: str | Path) -> None:
    """Save a Keras model atomically; Keras insists on a `.keras` name, so it is saved under
    `target`'s own name in a temp dir beside it, then renamed over it."""
    target = Path(target)
    with scratch_dir(target) as tmp:
        model.save(tmp / target.name)
        os.replace(tmp / target.name, target)


@contextlib.contextmanager
def scratch_dir(target: str | Path) -> Iterator[Path]:
    """A temp dir beside `target` (stale ones of killed runs swept first), removed on exit."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    tmp = temp_sibling(target)
    tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


INCOMPLETE = ".incomplete"  # in the placeholder of an output being built


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Build a directory apart, then swap it in for `target`: never a mix of old and new.

    With a previous `target`, the build is a temp sibling and the previous output stays
    untouched until the swap. Without one (the first run, or `dvc repro`, which deletes a
    stage's outputs before running it), `target` is a placeholder holding an INCOMPLETE
    marker and the build: a kill -9 leaves an output DVC sees as modified, and DVC's restore
    or re-run of it removes the killed build with it; nothing is left beside the output.
    """
    target = Path(target)
    if target.exists():
        with scratch_dir(target) as tmp:
            yield tmp
            old = temp_sibling(target)  # swept by the next run if killed between the renames
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    target.mkdir()
    build = target / temp_sibling(target).name
    (target / INCOMPLETE).write_text(f"being written in {build.name}; run the stage again if "
                                     f"that process is gone\n")
    done = temp_sibling(target)
    try:
        build.mkdir()
        yield build
        os.replace(build, done)  # out of the placeholder, then in its place
        shutil.rmtree(target)
        os.replace(done, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(done, ignore_errors=True)
