"""English wording helpers for UI pages, CLI output, timeline entries and obligation reasons.

Translated text (the notices under ``templates/notices/<regime>/<locale>/``) prints no counts before nouns
and does not use these; English text does, through one function: ``plural`` here, registered as the Jinja
filter ``plural`` for the web pages (``{{ n | plural('person', 'people') }}``).
"""

from __future__ import annotations


def plural(count: float, singular: str, plural_form: str | None = None) -> str:
    """``count`` with the noun that agrees with it: ``plural(1, "person", "people") == "1 person"``,
    ``plural(3, "letter") == "3 letters"`` (the plural defaults to ``singular + "s"``). Only exactly 1 takes
    the singular (``0 letters``, ``1.5 hours``); a float prints as ``:g`` (``2.0`` -> ``2``)."""
    noun = singular if count == 1 else (plural_form if plural_form is not None else singular + "s")
    number = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{number} {noun}"
