"""Nested dicts → one level, for MLflow (flat params and metrics) and gate metric lookups."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def flatten(obj: Any, sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1, "c": [{"d": 2}]}} → {"a.b": 1, "a.c.0.d": 2}: mappings and lists that
    hold containers are walked (list items by index); every other value is a leaf, as is."""
    return dict(_leaves(obj, sep, prefix))


def _leaves(obj: Any, sep: str, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        items = obj.items()
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in obj):
        items = enumerate(obj)
    else:
        yield prefix, obj
        return
    for key, value in items:
        yield from _leaves(value, sep, f"{prefix}{sep}{key}" if prefix else str(key))
