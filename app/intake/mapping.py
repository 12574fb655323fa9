"""Mapping rules (data, not code) from a source tool's case JSON to incident-file fields.

A rules document (YAML in ``app/intake/mappings/<source>.yaml``, or inline for ``generic``)::

    source: thehive
    unwrap: [object]                 # if the payload holds one of these objects, map that object
    id: _id                          # path of the source's case id (required in every payload)
    link: "{base}/cases/{id}/details"  # link back; {base} from INTAKE_BASE_URLS, {id} the case id
    fields:
      title: {from: title, required: true}
      aware_at: {from: [customFields[name=aware-at].value, startDate], type: datetime}
      cause: {from: tags, type: text, map: {ransomware: ransomware}, default: other}

Paths are dotted keys; ``key[name=value]`` picks the first list item whose ``name`` is ``value``. ``from``
may list alternatives (the first present wins). Types: ``text`` (``strip``: a regular expression removed),
``int``, ``bool``, ``datetime`` (ISO 8601 with offset, epoch milliseconds, or a date; ``naive: utc`` accepts
a time without offset as UTC), ``list`` (a list or comma-separated text). ``map`` translates values (list
items without a translation are dropped); ``default`` applies only when the incident is created.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from app.errors import InvalidInput

MAPPINGS = Path(__file__).resolve().parent / "mappings"
_SELECT = re.compile(r"^(?P<key>[^\[\]]+)\[(?P<field>[^=\]]+)=(?P<value>[^\]]*)\]$")
MISSING = object()


class FieldRule(BaseModel):
    """How one incident-file field (dotted target, e.g. ``subjects.count``) is filled."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: list[str] = Field(alias="from", min_length=1)
    type: Literal["text", "int", "bool", "datetime", "list"] = "text"
    required: bool = False
    default: Any = None
    map: dict[str, Any] | None = None
    strip: str | None = None
    naive: Literal["utc"] | None = None

    @field_validator("from_", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("strip")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class Rules(BaseModel):
    """A whole mapping: ``source``, ``unwrap``, ``id`` path, ``link`` template and ``fields``."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    description: str = ""
    unwrap: list[str] = Field(default_factory=list)
    id: str = Field(min_length=1)
    link: str | None = None
    fields: dict[str, FieldRule] = Field(min_length=1)


def parse_rules(data: Any, *, prefix: str = "mapping.") -> Rules:
    """Validate a rules document; ``InvalidInput`` naming each bad field (under ``prefix``)."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{prefix.rstrip('.')}: expected an object",
                           details=[{"path": prefix.rstrip("."), "reason": "expected an object"}])
    try:
        return Rules.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise InvalidInput.from_pydantic(exc, prefix=prefix) from exc


def load(source: str, folder: Path = MAPPINGS) -> Rules:
    """The shipped rules of ``source`` (``thehive``, ``iris``); ``ValueError`` if there are none."""
    path = folder / f"{source}.yaml"
    if not path.is_file():
        raise ValueError(f"no mapping for source {source!r}")
    return parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")), prefix=f"{path.name}: ")


def resolve(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` (see the module docstring), or ``MISSING``."""
    node = data
    for part in path.split("."):
        match = _SELECT.match(part)
        key = match.group("key") if match else part
        if not isinstance(node, Mapping) or key not in node:
            return MISSING
        node = node[key]
        if match:
            items = node if isinstance(node, list) else []
            found = [i for i in items if isinstance(i, Mapping) and str(i.get(match.group("field"))) ==
                     match.group("value")]
            if not found:
                return MISSING
            node = found[0]
    return MISSING if node is None or node == "" else node


def _datetime(value: Any, rule: FieldRule) -> str:
    if isinstance(value, bool):
        raise ValueError("expected a time")
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).isoformat()
    text = str(value).strip().replace("Z", "+00:00")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return f"{text}T00:00:00+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        if rule.naive != "utc":
            raise ValueError("time without a UTC offset")
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.isoformat()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "y"):
        return True
    if text in ("false", "no", "0", "n"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def convert(value: Any, rule: FieldRule) -> Any:
    """Convert a source value by ``rule``; ``ValueError`` with the reason."""
    if rule.type == "list":
        items = value if isinstance(value, list) else str(value).split(",")
        items = [str(i).strip() for i in items if str(i).strip()]
        return [rule.map[i] for i in items if i in rule.map] if rule.map is not None else items
    if rule.map is not None:
        hits = [rule.map[str(v)] for v in (value if isinstance(value, list) else [value]) if str(v) in rule.map]
        if not hits:
            return MISSING
        value = hits[0]
    if rule.type == "int":
        if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    if rule.type == "bool":
        return _bool(value)
    if rule.type == "datetime":
        return _datetime(value, rule)
    text = str(value)
    return re.sub(rule.strip, "", text).strip() if rule.strip else text


def _put(doc: dict[str, Any], target: str, value: Any) -> None:
    *parents, last = target.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def unwrap(rules: Rules, payload: Any) -> Any:
    """The case object inside ``payload`` (a webhook envelope or an API answer), else ``payload``."""
    if isinstance(payload, Mapping):
        for key in rules.unwrap:
            if isinstance(payload.get(key), Mapping):
                return payload[key]
    return payload


def apply(rules: Rules, case: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Map ``case`` into ``(from_payload, defaults)``: two nested incident-file fragments, the first from
    values present in the payload, the second from ``default`` rules. Raises ``InvalidInput`` naming the
    source path (``case.<path>``) of a missing required value or an unconvertible one."""
    found: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for target, rule in rules.fields.items():
        path, value = next(((p, v) for p in rule.from_ for v in [resolve(case, p)] if v is not MISSING),
                           (rule.from_[0], MISSING))
        if value is not MISSING:
            try:
                value = convert(value, rule)
            except ValueError as exc:
                problems.append({"path": f"case.{path}", "reason": f"{exc} (for incident field {target})"})
                continue
        if value is not MISSING:
            _put(found, target, value)
        elif rule.default is not None:
            _put(defaults, target, rule.default)
        elif rule.required:
            problems.append({"path": f"case.{' | '.join(rule.from_)}",
                             "reason": f"missing; required for incident field {target}"})
    if problems:
        raise InvalidInput("invalid case: " + "; ".join(f"{p['path']}: {p['reason']}" for p in problems),
                           details=problems)
    return found, defaults
