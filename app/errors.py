"""One domain error hierarchy, mapped to HTTP once (JSON under ``/api``, HTML pages elsewhere)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError


class BreachNotifyError(Exception):
    """Base of every expected error. ``status`` is the HTTP status, ``code`` a stable machine name."""

    status = 500
    code = "error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        """JSON body: ``{"error": code, "message": str, "details": [...]}``."""
        return {"error": self.code, "message": self.message, "details": self.details}


class InvalidInput(BreachNotifyError):
    """Input failed validation; ``details`` lists ``{"path": "a.b", "reason": str}`` per problem."""

    status = 422
    code = "invalid"

    @classmethod
    def from_pydantic(cls, exc: PydanticValidationError, prefix: str = "") -> InvalidInput:
        """Convert a pydantic error into field paths and reasons."""
        details = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"] if p != "[key]")
            reason = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            reason = reason.removeprefix("Value error, ")
            details.append({"path": f"{prefix}{path}", "reason": reason})
        summary = "; ".join(f"{d['path']}: {d['reason']}" for d in details)
        return cls(f"invalid input: {summary}", details=details)


    @classmethod
    def refuse_nul(cls, value: Any) -> None:
        """Raise one naming every string (keys included) of a parsed JSON/YAML ``value`` that holds a NUL
        character: no text field means one, and PostgreSQL cannot store it."""
        if bad := [path.replace("\x00", "\\u0000") for path in _nul_paths(value)]:
            raise cls(f"NUL character (\\u0000) in {', '.join(bad)}",
                      details=[{"path": path, "reason": "contains a NUL character"} for path in bad])


def _nul_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths (list items by index) of the strings in ``value`` that hold a NUL character."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = [f"{path}.{key}".lstrip(".") for key in value if isinstance(key, str) and "\x00" in key]
        return found + [p for key, item in value.items() for p in _nul_paths(item, f"{path}.{key}".lstrip("."))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}.{i}".lstrip("."))]
    return []


class NotFound(BreachNotifyError):
    """The record does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(BreachNotifyError):
    """The request conflicts with the record's state (e.g. a disallowed lifecycle transition)."""

    status = 409
    code = "conflict"


class Unauthenticated(BreachNotifyError):
    """No valid session or API token."""

    status = 401
    code = "unauthenticated"


class Forbidden(BreachNotifyError):
    """Authenticated, but the role does not allow this action."""

    status = 403
    code = "forbidden"


class PasswordChangeRequired(Forbidden):
    """Signed in with a one-time password: the user must set their own before anything else (403; pages
    redirect to the change-password form)."""

    code = "password_change_required"


class PayloadTooLarge(BreachNotifyError):
    """The request body is larger than the configured limit."""

    status = 413
    code = "too_large"


class NotMigrated(BreachNotifyError):
    """The database schema is missing or older than the code."""

    status = 503
    code = "not_migrated"
