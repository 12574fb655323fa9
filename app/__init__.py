"""breach-notify: from a confirmed personal data breach to proof of notice.

``create_app`` builds the Flask application; nothing runs at import time, and importing a domain package
(e.g. ``app.subjects`` in a worker process) does not pull in Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; see :func:`app.factory.create_app`."""
    from app.factory import create_app as factory

    return factory(config)
