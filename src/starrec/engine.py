"""Where a data stage's per-element work runs: in this process (`engine.name: local`) or as
an Apache Beam pipeline (`beam`: the DirectRunner's worker processes here; Flink, Spark or
Dataflow by pipeline options).

Both engines call the same per-element function. Beam's results come back to the stage
through text shards in a scratch dir and are put back in input order, so what the stage
writes does not depend on the engine. An element whose function raises becomes a `Failed`
result the stage records, not a crashed pipeline.
"""

from __future__ import annotations

import base64
import logging
import pickle
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from starrec.config import BeamParams, EngineParams
from starrec.io import scratch_dir

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Failed:
    """An element whose function raised, with the reason."""

    reason: str


def attempt(work: Callable[[T], R], item: T) -> R | Failed:
    """`work(item)`, or the exception it raised as a `Failed`."""
    try:
        return work(item)
    except Exception as exc:  # noqa: BLE001 - any element error is recorded, not raised
        return Failed(f"{type(exc).__name__}: {exc}")


def map_elements(items: Sequence[T], work: Callable[[T], R], engine: EngineParams | None,
                 near: Path, setup: Callable[[], None] | None = None,
                 desc: str = "elements") -> list[R | Failed]:
    """`work` over `items`, results in input order; `setup` runs once per worker first
    (loads a model). No `engine`: local. Beam's results pass through a scratch dir beside
    `near`, which every worker must be able to write."""
    if engine is not None and engine.name == "beam":
        with scratch_dir(near) as scratch:
            return beam_map(items, work, engine.beam, scratch, setup, desc)
    if setup is not None:
        setup()
    return [attempt(work, item) for item in tqdm(items, desc=desc, unit="item")]


def _do_fn(setup: Callable[[], None] | None, work: Callable[[Any], Any]) -> Any:
    """The Beam DoFn: `setup` once per worker, then `work` per (index, item) of a batch → one
    encoded line each."""
    import apache_beam as beam

    class Apply(beam.DoFn):
        def setup(self) -> None:
            if setup is not None:
                setup()

        def process(self, element: list[tuple[int, Any]]) -> Iterable[str]:
            for index, item in element:
                yield base64.b64encode(pickle.dumps((index, attempt(work, item)))).decode()

    return Apply()


def batches(indexed: list[tuple[int, Any]]) -> list[list[tuple[int, Any]]]:
    """Items in batches of up to 16 (a few dozen batches per data set at least): Beam's cost
    per element (runner to worker and back) is of the order of a photo's own work, so one
    element per photo kept two workers at 1.38x one."""
    size = max(1, min(16, len(indexed) // 64))
    return [indexed[i:i + size] for i in range(0, len(indexed), size)]


def beam_map(items: Sequence[T], work: Callable[[T], R], cfg: BeamParams, scratch: Path,
             setup: Callable[[], None] | None = None, desc: str = "elements") -> list[R | Failed]:
    """`map_elements` on Beam: Create (batches of items) → Reshuffle (spreads them over the
    workers) → ParDo(work per item) → text shards under `scratch`, read back and sorted by
    input index."""
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise ImportError("engine beam: apache_beam is not installed; fix: pip install "
                          "'starrec[beam]'") from None
    prefix = Path(scratch) / "results"
    logging.getLogger("apache_beam").setLevel(logging.WARNING)  # workers relay every INFO line
    options = PipelineOptions(runner=cfg.runner, **cfg.options)
    log.info("%s: %d on Beam %s %s", desc, len(items), cfg.runner, cfg.options)
    start = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline
             | "items" >> beam.Create(batches(list(enumerate(items))))
             | "spread" >> beam.Reshuffle()
             | desc >> beam.ParDo(_do_fn(setup, work))
             | "results" >> beam.io.WriteToText(str(prefix)))
    results: dict[int, Any] = {}
    for shard in sorted(prefix.parent.glob(f"{prefix.name}*")):
        for line in shard.read_text().splitlines():
            index, result = pickle.loads(base64.b64decode(line))
            results[index] = result
    if len(results) != len(items):
        raise RuntimeError(f"{desc}: Beam returned {len(results)} of {len(items)} results")
    log.info("%s: %d done on Beam in %.1f s", desc, len(items), time.perf_counter() - start)
    return [results[i] for i in range(len(items))]
