"""A real HTTP server on 127.0.0.1 for the fault cases of the download stage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.http_routes import Server, serve


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from serve()
