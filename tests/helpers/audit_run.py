"""Run one stage script and record what it touched: `python audit_run.py pipelines/X.py [args]`.

Writes `$STARREC_AUDIT_DIR/<stage>[@<dataset>].json` with the files the run opened for
reading before it wrote them and the files it opened for writing (Python-level opens, from
`sys.addaudithook`), the directories it listed before writing into them (how C-level readers
such as TensorFlow's find their files), the params keys it read (field reads on the Config
that `load_config` returned, and whole sections it dumped) and the starrec modules it
imported. tests/stages/test_declared.py compares them with dvc.yaml.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

READS: set[str] = set()
WRITES: set[str] = set()
LISTED: set[str] = set()
PARAMS: set[str] = set()


def _written(path: str) -> bool:
    """Whether this run wrote `path` (or, for a directory, something in it) already."""
    return path in WRITES or any(w.startswith(path + os.sep) for w in WRITES)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        path, mode, flags = args
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # an open file descriptor
        path = os.path.abspath(os.fsdecode(path))
        writing = (any(c in mode for c in "wax+") if isinstance(mode, str)
                   else bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)))
        if writing:
            WRITES.add(path)
        elif path not in WRITES:
            READS.add(path)
    elif event in ("os.listdir", "os.scandir") and args and args[0] is not None:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(path))
            if not _written(path):
                LISTED.add(path)
    elif event in ("os.mkdir", "tempfile.mkdtemp", "tempfile.mkstemp"):
        WRITES.add(os.path.abspath(os.fsdecode(args[0])))
    elif event in ("os.rename", "shutil.copytree", "shutil.move"):  # os.replace is os.rename
        src, dst = (os.path.abspath(os.fsdecode(a)) for a in args[:2])
        WRITES.update([dst] + [dst + w[len(src):] for w in list(WRITES)
                               if w.startswith(src + os.sep)])


def _track_params() -> None:
    """Record field reads on the loaded Config (paths named as in params.yaml)."""
    from pydantic import BaseModel

    import starrec.config as config

    where: dict[int, str] = {}

    def register(obj: Any, path: str) -> None:
        if isinstance(obj, BaseModel):
            where[id(obj)] = path
            for name, field in type(obj).model_fields.items():
                key = field.alias or name
                register(object.__getattribute__(obj, name), f"{path}.{key}" if path else key)
        elif isinstance(obj, dict):
            for key, value in obj.items():
                register(value, f"{path}.{key}")

    def read(self: Any, name: str) -> Any:
        value = object.__getattribute__(self, name)
        fields = type(self).model_fields
        if name in fields and id(self) in where and not isinstance(value, (BaseModel, dict)):
            PARAMS.add(f"{where[id(self)]}.{fields[name].alias or name}")
        return value

    def dump(self: Any, *args: Any, **kwargs: Any) -> Any:
        if id(self) in where:
            PARAMS.add(where[id(self)] or "*")
        return BaseModel.model_dump(self, *args, **kwargs)

    def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        new = BaseModel.model_copy(self, *args, **kwargs)
        if id(self) in where:
            register(new, where[id(self)])
        return new

    parse = config.parse_config

    def tracked(*args: Any, **kwargs: Any) -> Any:
        cfg = parse(*args, **kwargs)
        register(cfg, "")
        return cfg

    config.parse_config = tracked
    config.Section.__getattribute__ = read
    config.Section.model_dump = dump
    config.Section.model_copy = copy


def main() -> None:
    sys.path.remove(os.path.dirname(os.path.abspath(__file__)))  # no helpers shadowing modules
    script, *args = sys.argv[1:]
    dataset = args[args.index("--dataset") + 1] if "--dataset" in args else None
    out = Path(os.environ["STARREC_AUDIT_DIR"]) / (
        Path(script).stem + (f"@{dataset}" if dataset else "") + ".json")
    _track_params()
    sys.addaudithook(_hook)
    sys.argv = [script, *args]
    code: Any = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    finally:
        modules = sorted(m for m in sys.modules if m == "starrec" or m.startswith("starrec."))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"reads": sorted(READS), "writes": sorted(WRITES),
                                   "listed": sorted(LISTED), "params": sorted(PARAMS),
                                   "modules": modules, "exit": code}, indent=1))
    sys.exit(code)


if __name__ == "__main__":
    main()
