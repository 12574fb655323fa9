"""Authentication and role checks for every route.

``requires`` marks a view with the roles allowed to call it; the fitness test walks ``app.url_map`` and
checks that every endpoint carries such a mark unless it is listed in ``PUBLIC_ENDPOINTS``.
Routes under ``/api`` authenticate with ``Authorization: Bearer <token>`` only (no cookies, so no CSRF);
pages authenticate with the Flask-Login session. A session user who signed in with a one-time password
(``must_change_password``) may only change it or sign out until done (``PasswordChangeRequired``, 403;
``app.web`` turns it into a redirect to the form for pages); tokens are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from flask_login import current_user

from app.accounts import service
from app.accounts.models import STAFF_RANK, Role, User
from app.db import get_session
from app.errors import Forbidden, PasswordChangeRequired, Unauthenticated

F = TypeVar("F", bound=Callable[..., Any])
PASSWORD_CHANGE_ENDPOINTS = frozenset({"accounts.change_password", "accounts.logout"})

PUBLIC_ENDPOINTS = frozenset({"static", "accounts.login", "health.healthz", "dispatch_webhooks.twilio_status",
                              "dispatch_webhooks.voice_answer", "dispatch_webhooks.voice_gather",
                              "dispatch_webhooks.voice_status",  # verified by Twilio signature
                              "public_notices.index", "public_notices.page", "public_notices.json_feed",
                              "public_notices.atom_feed", "personal_notice.show",
                              # authenticate by unguessable token (or are public by design): app.reports
                              "reports_public.signing_key", "reports_public.link", "reports_public.link_download",
                              # the published JSON Schemas of report exports, for regulators: app.reports
                              "reports_public.schema",
                              # the OpenAPI document and its reference page: app.openapi
                              "openapi.document_json", "openapi.reference", "openapi.redoc_script",
                              "openapi.redoc_font",
                              # its own bearer token (BREACH_NOTIFY_METRICS_TOKEN): app.ops.routes
                              "ops.metrics"})


def staff_at_least(minimum: Role) -> frozenset[str]:
    """Every staff role ranked at or above ``minimum``."""
    return frozenset(r.value for r, rank in STAFF_RANK.items() if rank >= STAFF_RANK[minimum])


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    clock = current_app.extensions["clock"]
    return service.user_for_token(get_session(), clock=clock, token=token.strip())


def authenticated_user() -> User:
    """The caller: token user under ``/api``, session user elsewhere.

    Raises ``Unauthenticated`` (none, or disabled) or ``PasswordChangeRequired`` (a session user who must
    still replace a one-time password, outside ``PASSWORD_CHANGE_ENDPOINTS``).
    """
    if request.path.startswith("/api/"):
        user = _bearer_user()
    else:
        user = cast(User, current_user._get_current_object()) if current_user.is_authenticated else None
    if user is None or not user.active:
        raise Unauthenticated("sign in first" if not request.path.startswith("/api/") else
                              "missing or invalid API token (Authorization: Bearer ...)")
    if (user.must_change_password and not request.path.startswith("/api/")
            and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS):
        raise PasswordChangeRequired("you signed in with a one-time password: set your own password first "
                                     "(/account/password)")
    return user


def requires(allowed: frozenset[str]) -> Callable[[F], F]:
    """Allow the view only to users whose role is in ``allowed``; sets ``g.user``.

    Raises ``Unauthenticated`` (401 / login redirect) or ``Forbidden`` (403).
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticated_user()
            if user.role not in allowed:
                raise Forbidden(f"role {user.role} may not do this")
            g.user = user
            return view(*args, **kwargs)

        wrapper.required_roles = allowed  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


READ = staff_at_least(Role.reporter)
FILE = staff_at_least(Role.reporter)
RESPOND = staff_at_least(Role.responder)
APPROVE = staff_at_least(Role.privacy_officer)
ADMIN = staff_at_least(Role.admin)
