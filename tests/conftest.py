"""Shared fixtures: where the real data lives, and a skip when it is absent."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reach.settings import DATA_ENV

REPO = Path(__file__).resolve().parents[1]

# The friction cache of the test session (its subprocesses too): a folder of its own, never
# the user's ~/.cache, removed at the end. tests/test_cache.py points each test elsewhere.
_SESSION_CACHE = tempfile.TemporaryDirectory(prefix="reach-test-model-cache-")
os.environ.setdefault("REACH_CACHE", str(Path(_SESSION_CACHE.name) / "model"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real public data folder (``$REACH_DATA``, default ``../shared/data``)."""
    import os

    root = Path(os.environ[DATA_ENV]) if DATA_ENV in os.environ else REPO.parent / "shared" / "data"
    if not root.is_dir():
        pytest.skip(f"real data not found at {root}: set {DATA_ENV} to the shared data folder")
    return root.resolve()


@pytest.fixture(scope="session")
def comoros(real_data: Path) -> Path:
    """The Comoros folder of the real data."""
    return real_data / "comoros"


@pytest.fixture(scope="session")
def malawi(real_data: Path) -> Path:
    """The southern Malawi AccessMod folder of the real data."""
    return real_data / "malawi_south_accessmod"


class Canary:
    """A web server on localhost that records every request it gets; none is allowed."""

    def __init__(self) -> None:
        import http.server
        import threading

        hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(404)
                self.end_headers()

            do_HEAD = do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                del args

        self.hits = hits
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def canary() -> Iterator[Canary]:
    """A localhost server hostile inputs point at; the session fails if it is ever asked."""
    server = Canary()
    yield server
    server.close()
    assert server.hits == [], f"reach made network requests: {server.hits}"
