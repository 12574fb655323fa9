"""Imports every table module so ``SQLModel.metadata`` is complete (for Alembic and tests)."""

from app.accounts.models import ApiToken, User
from app.audit.models import AuditEvent
from app.incidents.models import Incident, TimelineEntry
from app.notices.models import NoticeFacts, NoticeVersion
from app.obligations.models import IncidentAssessment, ObligationAlert, ObligationRecord, SchedulerLease
from app.subjects.models import DataSubject, IncidentSubject, SubjectIdentifier, SubjectImport

__all__ = [
           "ApiToken",
           "AuditEvent",
           "DataSubject",
           "Incident",
           "IncidentAssessment",
           "IncidentSubject",
           "NoticeFacts",
           "NoticeVersion",
           "ObligationAlert",
           "ObligationRecord",
           "SchedulerLease",
           "SubjectIdentifier",
           "SubjectImport",
           "TimelineEntry",
           "User",
]
