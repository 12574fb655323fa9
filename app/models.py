"""Imports every table module so ``SQLModel.metadata`` is complete (for Alembic and tests)."""

from app.accounts.models import ApiToken, User
from app.announcements.models import PublicNotice, SubstituteDecision
from app.audit.models import AuditEvent
from app.dispatch.models import Delivery, DeliveryAttempt, DispatchRun, SandboxMessage, SubstitutePoolEntry
from app.incidents.models import Incident, TimelineEntry
from app.intake.models import IncidentSource
from app.letters.models import LetterBatch, LetterBatchItem
from app.notices.models import NoticeFacts, NoticeVersion
from app.obligations.models import (
    EscalationEmail,
    IncidentAssessment,
    ObligationAlert,
    ObligationRecord,
    SchedulerLease,
)
from app.reports.models import ExportBundle, RegulatorReport, ReportGrant
from app.subjects.models import DataSubject, IncidentSubject, SubjectIdentifier, SubjectImport
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription

__all__ = [
           "ApiToken",
           "AuditEvent",
           "DataSubject",
           "Delivery",
           "DeliveryAttempt",
           "DispatchRun",
           "EscalationEmail",
           "ExportBundle",
           "Incident",
           "IncidentAssessment",
           "IncidentSource",
           "IncidentSubject",
           "LetterBatch",
           "LetterBatchItem",
           "NoticeFacts",
           "NoticeVersion",
           "ObligationAlert",
           "ObligationRecord",
           "PublicNotice",
           "RegulatorReport",
           "ReportGrant",
           "SandboxMessage",
           "SchedulerLease",
           "SubjectIdentifier",
           "SubjectImport",
           "SubstituteDecision",
           "SubstitutePoolEntry",
           "TimelineEntry",
           "User",
           "WebhookAttempt",
           "WebhookDelivery",
           "WebhookEvent",
           "WebhookSubscription",
]
