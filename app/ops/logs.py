"""Structured logs (structlog over the standard ``logging`` module): one JSON object per line on stderr.

Every record carries what is bound in the current context (``structlog.contextvars``): ``request_id`` (the
caller's ``X-Request-ID`` when it is a short token, else a new one; echoed in the response), ``incident_id``
(from the route's path) and, in the dispatch worker, ``delivery_id``. Modules keep using
``logging.getLogger(__name__)`` or ``structlog.get_logger()``; both end in the same formatter.

Never pass contact data (email addresses, phone numbers, push endpoints) or notice text to a log call: ids,
channels, states and provider codes only. The request log names the route pattern (``/n/<token>``), never
the concrete path, so tokens in URLs stay out of the logs too.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import IO, Any

import structlog
from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_OURS = "_breach_notify_handler"
# Libraries that log contact data or secrets: aiosmtpd (the sandbox SMTP peer, in-process in `scenario` and the
# tests) logs every envelope address at INFO; werkzeug's development server logs each raw path at INFO, tokens of
# personal and regulator links included (our own `request` event names the route pattern instead). WeasyPrint and
# fontTools log every step of each PDF (reports, letters) at INFO: noise on a terminal.
QUIET = {"mail.log": logging.WARNING, "werkzeug": logging.WARNING, "weasyprint": logging.WARNING,
         "weasyprint.progress": logging.WARNING, "fontTools": logging.WARNING}


def configure_logging(*, level: str = "INFO", fmt: str = "json", stream: IO[str] | None = None) -> None:
    """Route ``logging`` and ``structlog`` through one formatter on ``stream`` (default stderr).

    ``fmt``: ``json`` (production) or ``console``. Idempotent: replaces the handler it installed before.
    Raises ``ValueError`` for another ``fmt``.
    """
    if fmt not in ("json", "console"):
        raise ValueError(f"BREACH_NOTIFY_LOG_FORMAT must be json or console, got {fmt!r}")
    shared: list[Any] = [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
                         structlog.stdlib.add_logger_name, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
                        logger_factory=structlog.stdlib.LoggerFactory(),
                        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=False)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer]))
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet_level in QUIET.items():
        logging.getLogger(name).setLevel(quiet_level)


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is 8 to 64 of ``[A-Za-z0-9._-]``, else a new random one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def register_request_logging(app: Flask) -> None:
    """Bind ``request_id`` and ``incident_id`` for each request; log one ``request`` event when it ends."""
    log = structlog.get_logger("app.request")

    @app.before_request
    def _bind() -> None:
        structlog.contextvars.clear_contextvars()
        g.request_started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get("X-Request-ID"))
        structlog.contextvars.bind_contextvars(request_id=g.request_id)
        incident_id = (request.view_args or {}).get("incident_id")
        if isinstance(incident_id, int):
            structlog.contextvars.bind_contextvars(incident_id=incident_id)

    @app.after_request
    def _log(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
            log.info("request", method=request.method, route=request.url_rule.rule if request.url_rule else None,
                     endpoint=request.endpoint, status=response.status_code,
                     duration_ms=round((time.perf_counter() - g.request_started) * 1000, 1))
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        structlog.contextvars.clear_contextvars()
