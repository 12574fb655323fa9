"""``summary.json`` and a readable ``summary.md`` of a scenario run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.wording import plural


def _obligations(item: dict[str, Any]) -> list[str]:
    lines = ["| regime | audience | due (UTC) | status | hours left |", "|---|---|---|---|---|"]
    for ob in item["obligations"]:
        audience = ob["audience"] + (f" · {ob['part']}" if ob["part"] else "")
        lines.append(f"| {ob['regime']} | {audience} | {ob['due_at'] or 'no fixed period'} | {ob['status']} | "
                     f"{'' if ob['time_left_hours'] is None else ob['time_left_hours']} |")
    return lines


def _deliveries(item: dict[str, Any]) -> list[str]:
    d = item["deliveries"]
    lines = [f"Dispatch run {d['run_id']} ({d['regime']} notices): {d['state']}; "
             f"{plural(d['fallbacks'], 'person', 'people')} fell back to another channel; "
             f"substitute pool {d['substitute_pool'] or 'empty'}.", "", "| channel | states |", "|---|---|"]
    for channel, states in sorted(d["by_channel"].items()):
        lines.append(f"| {channel} | " + ", ".join(f"{s} {n}" for s, n in sorted(states.items())) + " |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The human summary: per incident obligations, deliveries, substitute notice, exports, audit, timings."""
    out = [f"# Scenario summary ({plural(len(result['incidents']), 'incident')}, seed {result['seed']})", "",
           f"Audit chain: {'verified' if result['audit_verified'] else 'BROKEN'} "
           f"({plural(result['audit_events'], 'event')}). "
           f"Total {result['elapsed_seconds']} s.", ""]
    for item in result["incidents"]:
        sub = item["substitute_notice"]
        heading = f"HHS row {item['source_row']}: " if item["source_row"] is not None else ""
        out += [f"## {heading}{item['entity']}", "",
                f"{item['breach_type']} · {item['location']} · incident {item['incident_id']} · "
                f"{plural(item['subjects']['imported'], 'subject')} imported "
                f"({plural(item['subjects']['rejected_rows'], 'row')} rejected, "
                f"{plural(item['subjects']['merged_duplicates'], 'duplicate')} merged) · "
                f"{plural(item['notices_approved'], 'notice version')} approved", "", "### Obligations", "",
                *_obligations(item), "", "### Deliveries", "",
                *_deliveries(item), "", "### Substitute notice", "",
                (f"Published at /notices/{sub['published']} for {plural(sub['stands_for'], 'person', 'people')}."
                 if sub["published"] else "Not published: " + "; ".join(
                     r for v in sub["decision"]["verdicts"] for r in v["reasons"]) or "no rule applies"), "",
                "### Exports", ""]
        out += [f"- {e['regime']} report {e['report_id']}: bundle {Path(e['bundle']).name} "
                f"{'verified' if e['verified'] else 'FAILED: ' + '; '.join(e['problems'])}" for e in item["exports"]]
        out += ["", "### Elapsed seconds per stage", "", ", ".join(f"{k} {v}" for k, v in
                                                                  item["elapsed_seconds"].items()), ""]
    return "\n".join(out)


def write_summary(out: Path, result: dict[str, Any]) -> None:
    """Write ``summary.json`` and ``summary.md`` into ``out``."""
    (out / "summary.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    (out / "summary.md").write_text(markdown(result))
