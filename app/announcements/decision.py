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

Whom the notice stands in for (``stands_for``, people) follows its basis: justified by cost or by class
size, it replaces individual notice for everyone the regime would have to notify individually (``total``);
justified by insufficient contact information, by the unreachable threshold or by disproportionate effort,
it stands in for the unreachable people only. ``basis`` names the tests that were met.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

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


def _verdict(regime: str, rule: SubstituteNotice, counts: Counts) -> RegimeVerdict:
    reasons: list[str] = []
    basis: list[str] = []
    required = False
    insufficient = any(phrase in w for w in rule.when for phrase in _CONTACT_PHRASES)
    if rule.unreachable_at_least is not None:
        required = counts.unreachable >= rule.unreachable_at_least
        reasons.append(f"{counts.unreachable} unreachable; substitute notice required at {rule.unreachable_at_least} "
                       f"or more" + ("" if required else ": use alternative written notice or telephone instead"))
        if required:
            basis.append("unreachable_threshold")
    if rule.class_size_over is not None and counts.total > rule.class_size_over:
        basis.append("class_size")
        reasons.append(f"{plural(counts.total, 'person', 'people')} is more than {rule.class_size_over}")
    if rule.cost_over is not None and counts.individual_cost > rule.cost_over:
        basis.append("cost")
        reasons.append(f"estimated cost of individual notice ${counts.individual_cost:,.0f} is over "
                       f"${rule.cost_over:,.0f}")
    if insufficient and counts.unreachable > 0 and rule.unreachable_at_least is None:
        basis.append("insufficient_contact")
        reasons.append(f"{plural(counts.unreachable, 'person has', 'people have')} insufficient contact information")
    if any("disproportionate" in w for w in rule.when) and counts.unreachable > 0:
        basis.append("disproportionate_effort")
        reasons.append("individual communication to the unreachable people may involve disproportionate effort: "
                       "record why, and inform them by a public communication")
    if not reasons:
        reasons.append("no condition of the rule is met: " + "; ".join(rule.when))
    allowed = bool(basis)
    # Cost or class size: the public notice replaces individual notice for everyone; otherwise only for the
    # people individual notice cannot reach.
    stands_for = counts.total if {"cost", "class_size"} & set(basis) else counts.unreachable if allowed else 0
    return RegimeVerdict(regime, required, allowed, stands_for, posting_days(rule), list(rule.components), reasons,
                         rule.citation, basis, toll_free_days(rule))


def decide(*, playbooks: Mapping[str, Playbook], regimes: Sequence[str], counts: Counts) -> list[RegimeVerdict]:
    """Verdicts for the ``regimes`` that owe individual notice and have a substitute-notice rule."""
    verdicts = []
    for regime in sorted(set(regimes)):
        rule = _rule(playbooks[regime]) if regime in playbooks else None
        if rule is not None:
            verdicts.append(_verdict(regime, rule, counts))
    return verdicts


def as_document(counts: Counts, verdicts: Sequence[RegimeVerdict]) -> dict[str, object]:
    """JSON-ready decision: inputs and verdicts."""
    return {"inputs": asdict(counts), "verdicts": [asdict(v) for v in verdicts],
            "required": any(v.required for v in verdicts), "allowed": any(v.allowed for v in verdicts)}
