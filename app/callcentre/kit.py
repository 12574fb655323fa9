"""The call-centre kit: a call script and an FAQ (HTML and PDF) per language, rendered from the same facts as
the notices, so the toll-free line (required by HIPAA substitute notice, 45 CFR 164.404(d)(2)(ii)(B), and
named in California notices, Cal. Civ. Code 1798.82(d)(2)) says what the notices say.

The facts are those of the incident's newest *approved* individual notice version (its facts snapshot): what
people were told. Before any approval the current notice facts are used and every page says DRAFT.
Templates: ``templates/callcentre/<locale>/{script,faq}.html.j2``, rendered in the notices' sandboxed Jinja2
environment (``StrictUndefined``, autoescape, Babel ``date`` filter) with ``facts`` and ``kit`` (``source``,
``draft``, ``date``). PDFs with WeasyPrint (``app.notices.letters.html_to_pdf``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from app.errors import Conflict, NotFound
from app.incidents import service as incidents
from app.notices.context import IncidentFacts
from app.notices.letters import html_to_pdf
from app.notices.models import NoticeFacts, NoticeState, NoticeVersion
from app.notices.rendering import NoticeRenderer

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "callcentre"
LOCALES = ("en", "de", "fr", "zh")
DOCUMENTS = ("script", "faq")


@dataclass(frozen=True)
class KitFacts:
    """The facts the kit is made from: ``facts``, ``source`` (which approved version, or the draft facts) and
    ``draft`` (no approved notice yet)."""

    facts: IncidentFacts
    source: str
    draft: bool


def kit_facts(session: Session, *, incident_id: int) -> KitFacts:
    """The newest approved individual notice's facts, else the current facts (draft); ``Conflict`` when the
    incident has no notice facts at all, ``NotFound`` for an unknown incident."""
    incidents.get(session, incident_id=incident_id)
    version = session.exec(select(NoticeVersion).where(
        NoticeVersion.incident_id == incident_id, NoticeVersion.audience == "individuals",
        NoticeVersion.state == NoticeState.approved.value).order_by(col(NoticeVersion.approved_at).desc(),
                                                                    col(NoticeVersion.id).desc())).first()
    if version is not None:
        return KitFacts(IncidentFacts.model_validate(version.facts_snapshot["facts"]),
                        f"approved notice {version.label} (facts version {version.facts_version})", False)
    row = session.exec(select(NoticeFacts).where(NoticeFacts.incident_id == incident_id)).first()
    if row is None:
        raise Conflict(f"incident {incident_id} has no notice facts: write them before the call-centre kit")
    return KitFacts(IncidentFacts.model_validate(row.facts), f"draft facts version {row.version}", True)


def render_html(kit: KitFacts, *, locale: str, document: str, today: dt.date,
                templates_dir: Path = TEMPLATES_DIR) -> str:
    """The ``document`` (``script`` or ``faq``) in ``locale`` as HTML; ``NotFound`` for an unknown locale or
    document."""
    if document not in DOCUMENTS:
        raise NotFound(f"no call-centre document {document!r}; known: {', '.join(DOCUMENTS)}")
    if locale not in LOCALES:
        raise NotFound(f"no call-centre kit in {locale!r}; languages: {', '.join(LOCALES)}")
    renderer = NoticeRenderer(templates_dir)
    values = {"facts": kit.facts.model_dump(mode="python"), "notice_locale": locale,
              "kit": {"source": kit.source, "draft": kit.draft, "date": today}}
    return renderer.env.get_template(f"{locale}/{document}.html.j2").render(values)


def render_pdf(kit: KitFacts, *, locale: str, document: str, today: dt.date) -> bytes:
    """``render_html`` as PDF bytes."""
    return html_to_pdf(render_html(kit, locale=locale, document=document, today=today))


def write_kit(kit: KitFacts, *, out_dir: Path, today: dt.date, locales: tuple[str, ...] = LOCALES,
              pdf: bool = True) -> list[Path]:
    """Write ``<document>-<locale>.html`` (and ``.pdf``) for every locale and document; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for locale in locales:
        for document in DOCUMENTS:
            html = render_html(kit, locale=locale, document=document, today=today)
            path = out_dir / f"{document}-{locale}.html"
            path.write_text(html, encoding="utf-8")
            written.append(path)
            if pdf:
                written.append(out_dir / f"{document}-{locale}.pdf")
                written[-1].write_bytes(html_to_pdf(html))
    return written
