"""Export formats of an approved report version: JSON (per the published schema), the HHS breach portal
CSV (us.md §1.7) and PDF (WeasyPrint, from ``templates/reports/document.html``; no outside resources).

CSV quoting follows the portal's own export: every field double-quoted, embedded quotes doubled, LF line
endings, UTF-8 without BOM; the field text (including CRLFs inside descriptions) is kept byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.reports.regimes import REPORT_TYPES, schema_path

HHS_COLUMNS = ("Name of Covered Entity", "State", "Covered Entity Type", "Individuals Affected",
               "Breach Submission Date", "Type of Breach", "Location of Breached Information",
               "Business Associate Present", "Web Description")
HHS_KEYS = ("name_of_covered_entity", "state", "covered_entity_type", "individuals_affected",
            "breach_submission_date", "type_of_breach", "location_of_breached_information",
            "business_associate_present", "web_description")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "reports"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
SCHEMA_FILE = "report.schema.json"
NOTICE_FILES = {"ca-ag-sample": ("sample_notice", "sample-notice.pdf"),
                "fl-ag-report": ("notice_copy", "notice-copy.pdf")}  # report type: (content field, bundle file)


def schema_url(public_url: str, report_type: str) -> str:
    """The absolute URL of a report type's published JSON Schema under the server's public URL."""
    return public_url.rstrip("/") + schema_path(report_type)


def published_schema(report_type: str, *, url: str) -> bytes:
    """The JSON Schema of ``report_type`` as published at ``url`` and put in bundles: the reviewed file
    ``app/reports/schemas/<type>.schema.json`` with ``$id`` set to ``url``."""
    schema = json.loads((SCHEMAS / f"{report_type}.schema.json").read_text(encoding="utf-8"))
    schema["$id"] = url
    return json_bytes(schema)


def json_bytes(document: dict[str, Any]) -> bytes:
    """The report document as pretty UTF-8 JSON (sorted keys, trailing newline)."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def hhs_csv(rows: list[dict[str, Any]]) -> bytes:
    """The portal CSV: header plus one row per ``HhsPortalRow`` mapping, in ``HHS_COLUMNS`` order."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(HHS_COLUMNS)
    for row in rows:
        writer.writerow([row[k] for k in HHS_KEYS])
    return out.getvalue().encode()


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.filters["label"] = lambda key: str(key).replace("_", " ").capitalize()
    return env


def report_html(document: dict[str, Any]) -> str:
    """The report as a self-contained HTML page (for the PDF)."""
    title = REPORT_TYPES[document["report_type"]].title
    return _environment().get_template("document.html").render(doc=document, title=title)


def pdf_bytes(document: dict[str, Any]) -> bytes:
    """PDF of :func:`report_html`; only ``data:`` URLs are loaded (no network, no local files)."""
    from app.notices.letters import html_to_pdf

    return html_to_pdf(report_html(document))


def quoted_notice(document: dict[str, Any]) -> dict[str, Any] | None:
    """The approved individual notice a report quotes (California's sample notice, us.md §2.1; Florida's
    notice copy, §2.4), ``{id, channel, locale, rendered_sha256, approved_at, text}``, or None."""
    field = NOTICE_FILES.get(document["report_type"])
    notice: dict[str, Any] | None = document["content"].get(field[0]) if field else None
    return notice


def files_for(document: dict[str, Any], *, notice_html: str | None = None) -> dict[str, bytes]:
    """The export files of one report: ``report.json``, its JSON Schema (``report.schema.json``, as
    published at the document's ``schema_id``), ``report.pdf``, for HHS the portal CSV, and the quoted
    notice (:func:`quoted_notice`) as its own PDF from ``notice_html`` (``sample-notice.pdf``,
    ``notice-copy.pdf``; WeasyPrint, as letters are)."""
    from app.notices.letters import html_to_pdf

    files = {"report.json": json_bytes(document), "report.pdf": pdf_bytes(document),
             SCHEMA_FILE: published_schema(document["report_type"], url=document["schema_id"])}
    if notice_html is not None:
        files[NOTICE_FILES[document["report_type"]][1]] = html_to_pdf(notice_html)
    if document["report_type"] == "hhs-breach":
        files["hhs-breach-portal.csv"] = hhs_csv([document["content"]["portal_row"]])
    return files
