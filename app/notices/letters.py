"""Postal letters: a notice version's letter rendered to PDF (WeasyPrint), one PDF per recipient.

One file per recipient, not one combined PDF: each letter is the evidence of what that person was sent,
it can be re-printed or attached to an email on its own, and a mailing house takes a folder (or zip) of
files just as well. ``letter_pdfs`` takes any number of recipients and renders them in order (a batch),
yielding as it goes so a large batch never sits in memory.

The letter is rendered from the version's *stored* templates (``app.notices.drafting.render_stored``),
with the recipient's postal address in the address block under the name. The page size and the mandated
title and headings (California: "Notice of Data Breach", Cal. Civ. Code 1798.82(d)(1)) come from the
letter template. WeasyPrint needs Pango and HarfBuzz (``libpango-1.0-0``, ``libpangoft2-1.0-0``,
``libharfbuzz-subset0``) and a font (``fonts-dejavu-core``); it is imported only when a PDF is made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from app.errors import InvalidInput
from app.notices.context import Recipient
from app.notices.drafting import context_for, render_stored
from app.notices.models import NoticeVersion


def html_to_pdf(html: str) -> bytes:
    """PDF bytes of one HTML document. Only ``data:`` URLs are loaded: no network, no local files."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    pdf: bytes = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=("data",))).write_pdf()
    return pdf


def letter_html(version: NoticeVersion, recipient: Recipient, *, notice_date: dt.date) -> str:
    """The letter HTML of ``version`` for ``recipient``. ``InvalidInput`` when the version is not a letter
    or the recipient has no postal address."""
    if version.channel != "letter":
        raise InvalidInput(f"notice version {version.id} is a {version.channel} notice, not a letter",
                           details=[{"path": "channel", "reason": "not a letter"}])
    if not recipient.postal_address:
        raise InvalidInput("a letter needs the recipient's postal address",
                           details=[{"path": "recipient.postal_address", "reason": "empty"}])
    context = context_for(version.facts_snapshot, recipient, notice_date)
    notice = render_stored(templates=version.templates, channel="letter", regime=version.regime,
                           folder=(version.template_regime, version.template_locale), context=context)
    return notice.parts["html"]


def letter_pdfs(version: NoticeVersion, recipients: Iterable[Recipient], *,
                notice_date: dt.date) -> Iterator[tuple[int, bytes]]:
    """``(index, PDF bytes)`` per recipient, in order: one letter each (see the module docstring)."""
    for index, recipient in enumerate(recipients):
        yield index, html_to_pdf(letter_html(version, recipient, notice_date=notice_date))
