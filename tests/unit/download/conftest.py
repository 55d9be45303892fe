"""A real HTTP server on 127.0.0.1 (helpers/http_routes.py) for the download tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from helpers.http_routes import Server


def _serve() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture(scope="module")
def module_server() -> Iterator[Server]:
    yield from _serve()
