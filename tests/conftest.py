"""Shared test set-up: quiet TensorFlow, a private data cache, a local HTTP server."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own FRONTIER_DATA, so no test reads or fills a user's cache."""
    cache = tmp_path_factory.mktemp("frontier-cache")
    monkeypatch.setenv("FRONTIER_DATA", str(cache))
    return cache


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /files/NAME (200), /truncated/NAME (half the body, full Content-Length),
    /slow/NAME (one chunk per 0.2 s), /silent (never answers), anything else 404."""

    files: dict[str, bytes] = {}
    hits: dict[str, int] = {}

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        kind, _, name = self.path.strip("/").partition("/")
        if kind == "silent":
            time.sleep(30)
            return
        body = self.files.get(name)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if kind == "files":
                self.wfile.write(body)
            elif kind == "truncated":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif kind == "slow":
                for i in range(0, len(body), 4096):
                    self.wfile.write(body[i:i + 4096])
                    self.wfile.flush()
                    time.sleep(0.2)
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, type[_Handler]]]:
    """A threaded HTTP server on 127.0.0.1: yields (base URL, handler class with .files)."""
    handler = type("Handler", (_Handler,), {"files": {}, "hits": {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
