"""The incident form: one field list drives rendering and parsing, covering every incident-file field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.incidents.schema import Cause, DataCategory, DiscoveredBy, Medium, Recipients, Sector


@dataclass(frozen=True)
class FormField:
    """One input: dotted incident-file ``path``, ``label``, ``kind`` and ``choices`` for selects."""

    path: str
    label: str
    kind: str = "text"  # text|textarea|datetime|bool|int|number|select|multi|counts
    choices: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


DT_HINT = "ISO 8601 with offset, e.g. 2026-03-02T09:00+01:00"
FIELDS: tuple[FormField, ...] = (
    FormField("title", "Title", required=True),
    FormField("description", "What happened", "textarea"),
    FormField("aware_at", "Aware at (legal clock starts)", "datetime", required=True, hint=DT_HINT),
    FormField("occurred_at", "Occurred at", "datetime", hint=DT_HINT),
    FormField("discovered_by", "Discovered by", "select", ("", *_values(DiscoveredBy))),
    FormField("controller.name", "Controller name", required=True),
    FormField("controller.establishment", "Establishment", hint="ISO code, e.g. DE or US-CA"),
    FormField("controller.sector", "Sector", "select", _values(Sector)),
    FormField("controller.hipaa_covered_entity", "HIPAA covered entity or business associate", "bool"),
    FormField("controller.contact.name", "Contact point name"),
    FormField("controller.contact.email", "Contact point email"),
    FormField("controller.contact.phone", "Contact point phone"),
    FormField("cause", "Cause", "select", _values(Cause)),
    FormField("malicious", "Malicious", "bool"),
    FormField("confidentiality.affected", "Confidentiality affected", "bool"),
    FormField("confidentiality.recipients", "Recipients", "select", _values(Recipients)),
    FormField("confidentiality.recipient_count", "Number of recipients", "int"),
    FormField("confidentiality.exfiltrated", "Exfiltrated", "select", ("false", "true", "unknown")),
    FormField("confidentiality.data_returned_or_deleted", "Recipient returned or deleted the data", "bool"),
    FormField("confidentiality.accounts_accessed", "Subjects' accounts accessed", "bool"),
    FormField("integrity.affected", "Integrity affected", "bool"),
    FormField("integrity.recoverable", "Integrity recoverable", "bool"),
    FormField("integrity.misused", "Altered data misused", "bool"),
    FormField("availability.affected", "Availability affected", "bool"),
    FormField("availability.permanent", "Loss is permanent", "bool"),
    FormField("availability.outage_hours", "Outage (hours)", "number"),
    FormField("availability.backup_available", "Backup available", "bool"),
    FormField("availability.harms_individuals", "Outage harms individuals", "bool"),
    FormField("protection.encrypted", "Encrypted (state of the art)", "bool"),
    FormField("protection.key_compromised", "Key compromised", "bool"),
    FormField("protection.hashed", "Secrets hashed (salted, state of the art)", "bool"),
    FormField("protection.medium", "Medium", "select", _values(Medium)),
    FormField("data_categories", "Data categories", "multi", _values(DataCategory)),
    FormField("subjects.count", "Affected data subjects (count)", "int", required=True),
    FormField("subjects.count_is_estimate", "Count is an estimate", "bool"),
    FormField("subjects.by_jurisdiction", "By jurisdiction", "counts", hint="e.g. DE:38, AT:2"),
    FormField("subjects.vulnerable", "Vulnerable people (children, patients)", "bool"),
    FormField("measures_taken", "Measures taken", "textarea"),
)


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[leaf] = value


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _parse_counts(text: str) -> dict[str, Any] | str:
    counts: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        code, sep, number = item.partition(":")
        counts[code.strip()] = number.strip() if sep else item
    return counts


def _convert(field: FormField, form: Mapping[str, Any]) -> Any:
    if field.kind == "bool":
        return field.path in form
    if field.kind == "multi":
        getlist = getattr(form, "getlist", None)
        return list(getlist(field.path)) if getlist else list(form.get(field.path) or [])
    raw = str(form.get(field.path, "")).strip()
    if raw == "":
        return None
    if field.kind == "counts":
        return _parse_counts(raw)
    if field.path == "confidentiality.exfiltrated":
        return raw if raw == "unknown" else raw == "true"
    return raw  # pydantic converts and reports ints, numbers and datetimes with the field path


def document_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """Build an incident-file mapping from posted form values (empty optional inputs are left out)."""
    doc: dict[str, Any] = {}
    for field in FIELDS:
        value = _convert(field, form)
        if value is not None:
            _set(doc, field.path, value)
    if "contact" in doc.get("controller", {}) and not any(doc["controller"]["contact"].values()):
        del doc["controller"]["contact"]
    return doc


def form_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten a stored incident file into form values keyed by path (for the edit page)."""
    values: dict[str, Any] = {}
    for field in FIELDS:
        value = _get(doc, field.path)
        if field.kind == "counts" and isinstance(value, Mapping):
            value = ", ".join(f"{k}:{v}" for k, v in value.items())
        elif field.kind not in ("bool", "multi") and value is not None:
            value = str(value).lower() if isinstance(value, bool) else str(value)
        values[field.path] = value
    return values
