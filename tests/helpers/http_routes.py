"""Routes for the local test HTTP server: each misbehaves in one way the downloader handles."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

Route = Callable[[BaseHTTPRequestHandler, int], None]  # (handler, hit number from 1)


def jpeg(seed: int, size: int = 16) -> bytes:
    """A tiny, valid JPEG whose content depends on `seed`."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)).save(
        buf, "JPEG")
    return buf.getvalue()


def send(body: bytes, status: int = 200, ctype: str = "image/jpeg",
         length: int | None = None) -> Route:
    def route(h: BaseHTTPRequestHandler, hit: int) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        h.end_headers()
        h.wfile.write(body)
        if length is not None:  # promised more than sent: hang up mid-body
            h.close_connection = True
    return route


def chunked(body: bytes) -> Route:
    """No Content-Length: the size cap must trip while streaming."""
    def route(h: BaseHTTPRequestHandler, hit: int) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/jpeg")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for i in range(0, len(body), 4096):
            part = body[i:i + 4096]
            h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")
    return route


def trickle(body: bytes, step: int, pause: float) -> Route:
    """Slow but steady: `step` bytes every `pause` seconds (each read within the timeout)."""
    def route(h: BaseHTTPRequestHandler, hit: int) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(0, len(body), step):
            h.wfile.write(body[i:i + step])
            h.wfile.flush()
            time.sleep(pause)
    return route


def fail_then(n: int, then: Route, status: int = 500) -> Route:
    def route(h: BaseHTTPRequestHandler, hit: int) -> None:
        (send(b"boom", status, "text/plain") if hit <= n else then)(h, hit)
    return route


def stall(seconds: float) -> Route:
    def route(h: BaseHTTPRequestHandler, hit: int) -> None:
        time.sleep(seconds)
        h.close_connection = True
    return route


def reset(h: BaseHTTPRequestHandler, hit: int) -> None:
    """Abort the connection with a TCP RST before any response."""
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


class Server:
    """`routes[path] = Route`; `hits[path]` counts requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with server._lock:
                    server.hits[self.path] += 1
                    hit = server.hits[self.path]
                route = server.routes.get(self.path)
                if route is None:
                    send(b"not found", 404, "text/plain")(self, hit)
                else:
                    route(self, hit)

            def log_message(self, *args: object) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # resets and hang-ups are deliberate

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path


def serve() -> Iterator[Server]:
    """A running Server for the length of a fixture (yield from it), shut down after."""
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
