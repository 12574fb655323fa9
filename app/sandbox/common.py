"""Shared parts of the sandbox peers: loopback ports, a threaded HTTP server and failure plans."""

from __future__ import annotations

import logging
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
Draw = Literal["ok", "temporary", "permanent"]


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free on ``host`` a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def require_loopback(host: str) -> None:
    """Raise ``ValueError`` unless ``host`` is a loopback address: peers never listen on the network."""
    if host not in (LOOPBACK, "localhost", "::1") and not host.startswith("127."):
        raise ValueError(f"sandbox peers listen on loopback only, not {host!r}")


class _QuietHandler(WSGIRequestHandler):
    # HTTP/1.1 keep-alive writes headers and body in two sends; without this Nagle waits for the
    # client's delayed ACK and a peer answers ~22 requests/s instead of hundreds.
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("sandbox http %s %s", self.path.split("?")[0], code)


class HttpPeer:
    """A threaded werkzeug server for ``wsgi_app`` on a loopback port, run in a daemon thread.

    ``start()`` returns once it listens; ``stop()`` shuts it down and joins the thread. ``url`` is
    ``http://127.0.0.1:<port>``.
    """

    def __init__(self, wsgi_app: Callable[..., Any], *, host: str = LOOPBACK, port: int = 0) -> None:
        require_loopback(host)
        self.host = host
        self.port, self._chosen = port or free_port(host), not port
        self._app = wsgi_app
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Listen and serve in a background thread (idempotent). A port this peer chose itself that another
        program took in the meantime (:func:`free_port` is only a snapshot) is chosen again, up to five times:
        ``url`` is final once this returns."""
        if self._server is not None:
            return
        for attempt in range(5):
            try:
                self._server = make_server(self.host, self.port, self._app, threaded=True,
                                           request_handler=_QuietHandler)
                break
            except SystemExit:  # werkzeug exits when the port is in use
                if not self._chosen or attempt == 4:
                    raise
                self.port = free_port(self.host)
        assert self._server is not None
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sandbox-http-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None


@dataclass
class FailurePlan:
    """Random failures for rehearsals: each request fails temporarily with probability ``temporary_rate``
    and permanently with ``permanent_rate`` (fractions 0..1, sum at most 1). ``seed`` makes it repeatable."""

    temporary_rate: float = 0.0
    permanent_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.temporary_rate <= 1 and 0 <= self.permanent_rate <= 1
                and self.temporary_rate + self.permanent_rate <= 1):
            raise ValueError("failure rates are fractions between 0 and 1 that add up to at most 1")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> Draw:
        """``ok``, ``temporary`` or ``permanent`` for one request."""
        if not self.temporary_rate and not self.permanent_rate:
            return "ok"
        with self._lock:
            roll = self._random.random()
        if roll < self.temporary_rate:
            return "temporary"
        if roll < self.temporary_rate + self.permanent_rate:
            return "permanent"
        return "ok"
