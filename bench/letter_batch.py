"""How long a print-and-post batch takes to make: WeasyPrint per letter, pypdf merge and manifest.

    python bench/letter_batch.py --letters 50

Renders the shipped ``default/en`` letter for generated recipients with US and German address blocks
(no database, no drop) and prints seconds per letter and for the merge.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from app.letters.addresses import address_block
from app.letters.files import Letter, build_files
from app.notices.context import IncidentFacts, NoticeContext, Recipient
from app.notices.letters import html_to_pdf
from app.notices.rendering import NoticeRenderer

FACTS = {"organisation_name": "Example Clinic", "what_happened": "A laptop with patient records was stolen.",
         "data_involved": ["Name", "Date of birth"], "likely_consequences": "Misuse of your details.",
         "measures_taken": "We told the police.", "what_you_can_do": "Check your statements.",
         "contact": {"name": "Privacy Office", "toll_free_phone": "1-800-555-0100"}, "discovered_on": "2026-04-01"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=50)
    args = parser.parse_args()
    renderer = NoticeRenderer(Path(__file__).resolve().parents[1] / "templates" / "notices")
    facts = IncidentFacts.model_validate(FACTS)
    letters: list[Letter] = []
    started = time.perf_counter()
    for n in range(args.letters):
        german = n % 2 == 1
        block = address_block({"line1": f"{n} Main Street", "city": "Berlin" if german else "Springfield",
                               "postal_code": "10115" if german else "90001", "region": "" if german else "CA",
                               "country": "DE" if german else "US"}, name=f"Person {n}")
        recipient = Recipient(full_name=f"Person {n}", personal_link="https://notify.example.org/n/x.y.AbCdEfGhIjKlMnOpQrStUv",
                              postal_address=block.below_name[:6], address_block=block.lines)
        context = NoticeContext(facts=facts, recipient=recipient, notice_date=dt.date(2026, 4, 2))
        html = renderer.render(regime="default", locale="en", channel="letter", context=context).parts["html"]
        letters.append(Letter(n, recipient.full_name, block.below_name, block.country, "first_class",
                              html_to_pdf(html)))
    rendered = time.perf_counter()
    files = build_files(letters)
    merged = time.perf_counter()
    print(f"letters: {args.letters}, pages: {files.total_pages}, merged PDF: {len(files.pdf) / 1e6:.2f} MB")
    print(f"render: {(rendered - started) / args.letters * 1000:.0f} ms per letter "
          f"({args.letters / (rendered - started):.1f} letters/s)")
    print(f"merge + manifest: {(merged - rendered) * 1000:.0f} ms for the batch")


if __name__ == "__main__":
    main()
