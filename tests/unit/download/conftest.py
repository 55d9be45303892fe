"""A real HTTP server on 127.0.0.1 (helpers/http_routes.py) for the download tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.http_routes import Server, serve


@pytest.fixture()
def server() -> Iterator[Server]:
    yield from serve()


@pytest.fixture(scope="module")
def module_server() -> Iterator[Server]:
    yield from serve()
