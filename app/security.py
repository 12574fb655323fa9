"""Browser-facing security settings: the content security policy and other response headers, and the cookie
flags of the session and remember-me cookies.

The policy allows scripts only from this origin (``app/static``: the app's own script and the vendored
Chart.js), so no inline script or event handler runs. Styles also allow ``'unsafe-inline'`` because notice
previews render the drafted HTML email (inline ``style`` attributes, as email clients need) in a sandboxed
``srcdoc`` frame, which inherits the page's policy; scripts stay strict.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def configure_cookies(app: Flask) -> None:
    """HttpOnly session and remember-me cookies, SameSite=Lax unless configured otherwise, and ``Secure``
    when the public URL is https (``BREACH_NOTIFY_PUBLIC_URL``) or ``*_COOKIE_SECURE`` is set.

    Flask's own defaults (``SameSite`` unset, ``Secure`` off) are present in ``app.config`` from the start, so
    they are replaced here rather than filled with ``setdefault``.
    """
    https = str(app.config.get("PUBLIC_URL", "")).lower().startswith("https://")
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        app.config[f"{prefix}_HTTPONLY"] = True
        if app.config.get(f"{prefix}_SAMESITE") is None:
            app.config[f"{prefix}_SAMESITE"] = "Lax"
        app.config[f"{prefix}_SECURE"] = bool(app.config.get(f"{prefix}_SECURE")) or https


def register_security_headers(app: Flask) -> None:
    """Add ``HEADERS`` to every response that does not set them itself."""

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
