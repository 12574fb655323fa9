"""Errors raised while loading playbooks, and the shared formatting of validation errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import ValidationError


class PlaybookError(Exception):
    """A playbook file is broken; the message names the file, the field path and the reason.

    ``problems`` holds one ``"file: field: reason"`` line per problem found.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def field_path(loc: Iterable[str | int]) -> str:
    """Render a pydantic location tuple as ``audiences[1].clocks[0].unit``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def describe_validation_error(err: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """Each problem of a pydantic error as ``(location, reason)``; the reason keeps the bad value short."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for item in err.errors(include_url=False):
        loc = tuple(item["loc"])
        reason = item["msg"]
        if item["type"] not in {"missing", "extra_forbidden"} and "input" in item:
            shown = repr(item["input"])
            reason += f" (got {shown[:60]})"
        problems.append((loc, reason))
    return problems
