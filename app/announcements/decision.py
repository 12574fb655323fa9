"""The substitute-notice decision: per regime, is a public communication required or allowed instead of
(or in addition to) individual notice, given the live numbers?

Pure: inputs are the playbooks' ``substitute_notice`` rules, which regimes owe individual notice, and the
counts; no database. Rules read:
- ``unreachable_at_least: N`` (HIPAA 45 CFR 164.404(d)(2)(ii): 10 or more people whose contact information
  is insufficient or out of date) -> substitute notice **required** for those people; below N the law asks
  for alternative written notice, telephone or other means instead (164.404(d)(2)(i)).
- ``class_size_over: N`` (e.g. Cal. Civ. Code 1798.82(j)(3): more than 500,000 people) -> **allowed**.
- ``cost_over: USD`` (e.g. California: cost of notice over $250,000) -> **allowed**, from the estimated cost
  of individual notice (cheapest usable channel per person, unit costs from configuration).
- any unreachable person where the rule lists insufficient contact information -> **allowed** for them.
- GDPR Art. 34(3)(c) (disproportionate effort) has no number: with unreachable people it is **allowed**,
  and the controller must record why individual communication would be disproportionate.

Each regime's tests count the people THAT regime requires to be notified individually, not the whole
incident (``RegimeCounts``, built by ``app.announcements.scope``): Cal. Civ. Code 1798.82(j)(3) counts the
California residents the business must notify (its cost of notifying them, their number, and those of them
with insufficient contact information), and so do Florida (Fla. Stat. 501.171(4)(f)), New York (GBL
899-aa(5)(d)), Texas (Bus. & Com. Code 521.053(f)), Massachusetts and Washington for their residents; HIPAA
(45 CFR 164.404(a)(1), (d)(2)) counts every individual whose unsecured PHI was breached, wherever they live;
GDPR Art. 34(3)(c) counts the data subjects the regime covers (everyone when the controller is established in
the Union, Art. 3(1); else the subjects resident there, Art. 3(2)).

Whom the notice stands in for (``stands_for``, people) follows its basis: justified by cost or by class
size, it replaces individual notice for everyone the regime would have to notify individually (that
regime's ``total``); justified by insufficient contact information, by the unreachable threshold or by
disproportionate effort, it stands in for that regime's unreachable people only. ``basis`` names the tests
that were met; each verdict carries the ``counts`` it was decided on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from app.playbooks.schema import Playbook, SubstituteNotice
from app.wording import plural


@dataclass(frozen=True)
class Counts:
    """People affected (total), unreachable (no usable contact, or every channel failed), and the
    estimated cost of individual notice in USD."""

    total: int
    unreachable: int
    individual_cost: float


@dataclass(frozen=True)
class RegimeCounts(Counts):
    """One regime's counts: its people (``who``, a plural noun such as "California residents"), those of them
    unreachable, and the estimated cost of notifying them individually.

    ``scope``: ``everyone`` (the regime covers every person of the incident, e.g. HIPAA) or ``residents``
    (people whose resolved jurisdiction the playbook's ``applies.subject_residence`` matches).
    ``source``: ``subjects`` (imported data subjects), ``estimate`` (the incident file's
    ``subjects.by_jurisdiction``, before any subject with a resolved jurisdiction is imported) or
    ``incident`` (the incident-wide counts: the regime covers everyone, or its counts were not given)."""

    who: str = "people"
    scope: str = "everyone"
    source: str = "incident"


@dataclass(frozen=True)
class RegimeVerdict:
    """One regime's substitute-notice verdict with reasons and the rule it rests on."""

    regime: str
    required: bool
    allowed: bool
    stands_for: int
    posting_days: int
    components: list[str]
    reasons: list[str]
    citation: str
    basis: list[str]
    toll_free_days: int = 0
    counts: RegimeCounts | None = None
    alternative_notice: bool = False
    """Some people are unreachable, but fewer than the rule's public-notice threshold: they must still get a
    substitute notice, by alternative written notice, telephone or other means, not by a public posting (HIPAA
    45 CFR 164.404(d)(2)(i): fewer than 10)."""

    @property
    def label(self) -> str:
        """The verdict in words (:func:`verdict_label`)."""
        return verdict_label({"required": self.required, "allowed": self.allowed,
                              "alternative_notice": self.alternative_notice})


def verdict_label(verdict: Mapping[str, Any]) -> str:
    """``required``, ``allowed``, ``alternative notice (not public)`` or ``not needed``: a verdict in words, from
    its fields (a decision document's stored verdict; one stored before ``alternative_notice`` existed lacks it).
    Also the templates' ``verdict_label`` filter."""
    if verdict.get("required"):
        return "required"
    if verdict.get("allowed"):
        return "allowed"
    return "alternative notice (not public)" if verdict.get("alternative_notice") else "not needed"


WHOLE_BASES = frozenset({"cost", "class_size"})
"""Bases on which a public notice replaces individual notice for everyone a regime counts, not only the
unreachable (e.g. Cal. Civ. Code 1798.82(j)(3): cost over $250,000 or more than 500,000 people)."""

_CONTACT_PHRASES = ("insufficient contact", "contact information insufficient", "cannot be reached", "no email",
                    "out of date")


def _rule(playbook: Playbook) -> SubstituteNotice | None:
    for audience in playbook.audiences:
        if audience.substitute_notice is not None:
            return audience.substitute_notice
    return None


def posting_days(rule: SubstituteNotice) -> int:
    """Days a website posting must stay up, read from the rule's components (e.g. "90-day ... posting")."""
    days = [int(m) for c in rule.components for m in re.findall(r"(\d+)[- ]day", c)]
    days += [int(m) for c in rule.components for m in re.findall(r"at least (\d+) days", c)]
    return max(days, default=0)


def toll_free_days(rule: SubstituteNotice) -> int:
    """Days a toll-free number must stay active, from a component naming one ("toll-free number active 90
    days": HIPAA 45 CFR 164.404(d)(2)(ii)(B)); 0 when the rule asks for none."""
    days = [int(m) for c in rule.components if "toll-free" in c.lower() for m in re.findall(r"(\d+)[- ]day", c)]
    return max(days, default=0)


def _people(count: int, who: str) -> str:
    """``1,000 California residents``, ``1 California resident``, ``1 unreachable person``, ``1 resident where
    eu-gdpr applies``: the noun (the last word before an ``of``/``where`` clause) agrees as
    ``app.wording.plural`` decides; the number has thousands separators."""
    phrase, clause = who, ""
    for word in (" of ", " where "):
        if word in who:
            phrase, clause = who.split(word, 1)[0], word + who.split(word, 1)[1]
            break
    head, _, last = phrase.rpartition(" ")
    singular = " ".join(filter(None, [head, "person" if last == "people" else last.removesuffix("s")])) + clause
    return f"{count:,} {plural(count, singular, who).split(' ', 1)[1]}"


def _usd(amount: float) -> str:
    """``$250,000``; cents only where there are any (``$9.99``)."""
    return f"${amount:,.0f}" if amount == round(amount) else f"${amount:,.2f}"


def _verdict(regime: str, rule: SubstituteNotice, counts: RegimeCounts) -> RegimeVerdict:
    reasons: list[str] = []
    basis: list[str] = []
    required = False
    who = counts.who
    insufficient = any(phrase in w for w in rule.when for phrase in _CONTACT_PHRASES)
    if rule.unreachable_at_least is not None:
        required = counts.unreachable >= rule.unreachable_at_least
        reasons.append(f"{counts.unreachable:,} unreachable of {_people(counts.total, who)}; substitute notice "
                       f"required at {rule.unreachable_at_least} or more"
                       + ("" if required else ": use alternative written notice or telephone instead"))
        if required:
            basis.append("unreachable_threshold")
    if rule.class_size_over is not None and counts.total > rule.class_size_over:
        basis.append("class_size")
        reasons.append(f"{_people(counts.total, who)} affected: more than {rule.class_size_over:,}")
    if rule.cost_over is not None and counts.individual_cost > rule.cost_over:
        basis.append("cost")
        reasons.append(f"estimated cost of individual notice to {_people(counts.total, who)} "
                       f"{_usd(counts.individual_cost)} is over {_usd(rule.cost_over)}")
    if insufficient and counts.unreachable > 0 and rule.unreachable_at_least is None:
        basis.append("insufficient_contact")
        reasons.append(f"{_people(counts.unreachable, who)} {'has' if counts.unreachable == 1 else 'have'} "
                       "insufficient contact information")
    if any("disproportionate" in w for w in rule.when) and counts.unreachable > 0:
        basis.append("disproportionate_effort")
        reasons.append(f"individual communication to the {_people(counts.unreachable, 'unreachable ' + who)} may "
                       "involve disproportionate effort: record why, and inform them by a public communication")
    if not reasons:
        reasons.append(f"no condition of the rule is met ({_people(counts.total, who)}, {counts.unreachable:,} "
                       f"unreachable, individual notice {_usd(counts.individual_cost)}): " + "; ".join(rule.when))
    allowed = bool(basis)
    # Cost or class size: the public notice replaces individual notice for everyone the regime counts;
    # otherwise only for those of them individual notice cannot reach.
    stands_for = counts.total if WHOLE_BASES & set(basis) else counts.unreachable if allowed else 0
    alternative = rule.unreachable_at_least is not None and 0 < counts.unreachable < rule.unreachable_at_least
    return RegimeVerdict(regime, required, allowed, stands_for, posting_days(rule), list(rule.components), reasons,
                         rule.citation, basis, toll_free_days(rule), counts, alternative)


def _regime_counts(counts: Counts) -> RegimeCounts:
    """``counts`` as a regime's (a ``RegimeCounts`` as it is; plain incident-wide counts labelled so)."""
    if isinstance(counts, RegimeCounts):
        return counts
    return RegimeCounts(counts.total, counts.unreachable, counts.individual_cost)


def decide(*, playbooks: Mapping[str, Playbook], regimes: Sequence[str], counts: Counts,
           by_regime: Mapping[str, Counts] | None = None) -> list[RegimeVerdict]:
    """Verdicts for the ``regimes`` that owe individual notice and have a substitute-notice rule.

    ``by_regime``: each regime's own counts (``app.announcements.scope.Population.regime_counts``); a regime missing
    from it is decided on the incident-wide ``counts``."""
    verdicts = []
    for regime in sorted(set(regimes)):
        rule = _rule(playbooks[regime]) if regime in playbooks else None
        if rule is not None:
            verdicts.append(_verdict(regime, rule, _regime_counts((by_regime or {}).get(regime, counts))))
    return verdicts


def as_document(counts: Counts, verdicts: Sequence[RegimeVerdict]) -> dict[str, object]:
    """JSON-ready decision: ``inputs`` (the incident-wide counts: ``total``, ``unreachable``,
    ``individual_cost``) and ``verdicts``, each with the ``counts`` of the people that regime counts
    (``RegimeCounts``: those three plus ``who``, ``scope`` and ``source``)."""
    inputs = Counts(counts.total, counts.unreachable, counts.individual_cost)
    return {"inputs": asdict(inputs), "verdicts": [asdict(v) for v in verdicts],
            "required": any(v.required for v in verdicts), "allowed": any(v.allowed for v in verdicts)}
