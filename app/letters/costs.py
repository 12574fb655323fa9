"""What a letter costs: the per-letter price plus the per-page price times the pages a letter of the incident
takes (measured in its batches; 1 before the first batch). Feeds the substitute-notice cost estimate
(e.g. Cal. Civ. Code 1798.82(j)(3): cost of notice over $250,000)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.letters.models import LetterBatch


def pages_per_letter(session: Session, *, incident_id: int) -> float:
    """Mean pages of the incident's posted letters, 1.0 before any batch."""
    letters, pages = session.execute(select(func.sum(col(LetterBatch.letters)), func.sum(col(LetterBatch.pages)))
                                     .where(col(LetterBatch.incident_id) == incident_id)).one()
    return float(pages) / float(letters) if letters else 1.0


def letter_unit_cost(session: Session, *, incident_id: int, unit_costs: Mapping[str, float]) -> float:
    """USD per letter: ``unit_costs["letter"] + unit_costs["letter_page"] * pages_per_letter``."""
    page = unit_costs.get("letter_page", 0.0)
    extra = page * pages_per_letter(session, incident_id=incident_id) if page else 0.0
    return unit_costs.get("letter", 0.0) + extra


def with_letter_cost(session: Session, *, incident_id: int, unit_costs: Mapping[str, float]) -> dict[str, float]:
    """``unit_costs`` with ``letter`` replaced by the incident's ``letter_unit_cost``."""
    return {**unit_costs, "letter": letter_unit_cost(session, incident_id=incident_id, unit_costs=unit_costs)}
