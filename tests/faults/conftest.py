"""A real HTTP server on 127.0.0.1 for the fault cases of the download stage."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from helpers.http_routes import Server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
