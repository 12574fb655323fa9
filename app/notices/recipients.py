"""A notice ``Recipient`` built from a real data subject of the incident (for previews and letters).

Decrypts the subject's name and first postal address; the personal link is the preview placeholder, since
real links are made per delivery at send time.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from app.crypto import FieldCipher
from app.errors import NotFound
from app.letters.addresses import block_from_json
from app.notices.context import Recipient
from app.notices.drafting import SAMPLE_LINK
from app.subjects.models import DataSubject, IncidentSubject, SubjectIdentifier

NAMELESS = "Customer"


def recipient_for(session: Session, *, cipher: FieldCipher, incident_id: int, subject_id: int,
                  origin: str = "US") -> Recipient:
    """The subject as a notice recipient, the address block in the destination country's format for letters
    posted from ``origin`` (ISO 3166-1 alpha-2); ``NotFound`` unless the subject is linked to the incident."""
    linked = session.execute(select(IncidentSubject).where(col(IncidentSubject.incident_id) == incident_id,
                                                           col(IncidentSubject.subject_id) == subject_id)).first()
    subject = session.get(DataSubject, subject_id) if linked else None
    if subject is None:
        raise NotFound(f"subject {subject_id} is not affected by incident {incident_id}")
    name = cipher.decrypt(subject.full_name_enc).strip() if subject.full_name_enc else NAMELESS
    address = session.execute(select(SubjectIdentifier).where(col(SubjectIdentifier.subject_id) == subject_id,
                                                              col(SubjectIdentifier.kind) == "address")
                              ).scalars().first()
    full_name = " ".join(name.split()) or NAMELESS
    block = block_from_json(cipher.decrypt(address.value_enc), name=full_name, origin=origin) if address else None
    return Recipient(full_name=full_name, preferred_language=subject.preferred_language, personal_link=SAMPLE_LINK,
                     postal_address=block.below_name[:6] if block else (),
                     address_block=block.lines if block else ())
