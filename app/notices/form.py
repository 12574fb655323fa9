"""The notice facts as a web form: field list, form -> ``FactsInput`` mapping, and back.

Kinds: ``text`` (one line), ``area`` (free text), ``lines`` (one list item per line), ``date``
(``YYYY-MM-DD``), ``bool`` (checkbox) and ``yaml`` (the remedies list, edited as YAML so that every field of
every remedy round-trips). Empty optional values are left out, so the model's defaults apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from app.errors import InvalidInput


@dataclass(frozen=True)
class FormField:
    """One input: ``path`` in the ``FactsInput`` body (``facts.contact.email``), ``label``, ``kind``, ``hint``."""

    path: str
    label: str
    kind: str = "text"
    hint: str = ""


FIELDS: tuple[FormField, ...] = (
    FormField("facts.organisation_name", "Organisation giving notice"),
    FormField("facts.what_happened", "What happened", "area", "Plain language; blank lines separate paragraphs."),
    FormField("facts.cause", "Cause", "area", "Required for China (PIPL Art. 57)."),
    FormField("facts.data_involved", "Information involved", "lines",
              "One category per line, e.g. \"Date of birth\". Never the values themselves."),
    FormField("facts.data_not_involved", "Information not involved", "lines"),
    FormField("facts.likely_consequences", "How this could affect people", "area"),
    FormField("facts.measures_taken", "What we are doing", "area"),
    FormField("facts.what_you_can_do", "What people can do", "area"),
    FormField("facts.remedies", "Remedies offered (YAML list)", "yaml",
              "- kind: credit_monitoring\n  description: ...\n  provider: ...\n  duration_months: 24\n"
              "  enrolment_url: https://...\n  enrol_by: 2026-06-30"),
    FormField("facts.contact.name", "Contact: person or department"),
    FormField("facts.contact.toll_free_phone", "Contact: toll-free number (call centre)"),
    FormField("facts.contact.phone", "Contact: phone"),
    FormField("facts.contact.hours", "Contact: call-centre hours"),
    FormField("facts.contact.email", "Contact: email"),
    FormField("facts.contact.website", "Contact: website"),
    FormField("facts.contact.postal_address", "Contact: postal address"),
    FormField("facts.breach_start", "Breach started (if known)", "date"),
    FormField("facts.breach_end", "Breach ended (if known)", "date"),
    FormField("facts.discovered_on", "Discovered on", "date"),
    FormField("facts.law_enforcement_delay", "Notice delayed by law enforcement", "bool"),
    FormField("facts.us_credit_bureaus", "List the US credit bureaus (SSN or ID number involved)", "bool"),
    FormField("facts.default_locale", "Default language (BCP 47, e.g. en, de, pt-BR)"),
    FormField("sender_name", "Email sender name"),
    FormField("sender_address", "Email sender address"),
    FormField("reply_to", "Reply-to address (optional)"),
)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        doc = doc.setdefault(key, {})
    doc[leaf] = value


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _parse(field: FormField, raw: str) -> Any:
    if field.kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if field.kind == "yaml":
        try:
            return yaml.safe_load(raw) or []
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{field.path}: not valid YAML",
                               details=[{"path": field.path, "reason": f"not valid YAML: {exc}"}]) from exc
    return raw.strip()


def document_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The ``FactsInput`` mapping from submitted form fields (``InvalidInput`` for bad remedies YAML)."""
    doc: dict[str, Any] = {}
    for field in FIELDS:
        if field.kind == "bool":
            _put(doc, field.path, field.path in form)
            continue
        value = _parse(field, form.get(field.path, ""))
        if value not in ("", []):
            _put(doc, field.path, value)
    return doc


def form_values(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    """Form values (field path -> text or bool) from a stored ``FactsInput`` mapping."""
    values: dict[str, Any] = {}
    for field in FIELDS:
        value = _get(doc or {}, field.path)
        if field.kind == "bool":
            values[field.path] = bool(value)
        elif field.kind == "lines":
            values[field.path] = "\n".join(value or [])
        elif field.kind == "yaml":
            values[field.path] = yaml.safe_dump(value, sort_keys=False, allow_unicode=True) if value else ""
        else:
            values[field.path] = "" if value is None else str(value)
    return values
