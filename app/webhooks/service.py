"""Managing subscriptions (admins) and reading the delivery log. Every change writes an audit event in the
same transaction; the secret is stored encrypted with the data cipher and shown once, on creation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.clock import Clock
from app.crypto import FieldCipher
from app.errors import InvalidInput, NotFound
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from app.webhooks.outbox import CIPHER_CONTEXT
from app.webhooks.schema import AttemptOut, DeliveryOut, SubscriptionIn, SubscriptionOut, SubscriptionPatch
from app.webhooks.sender import new_secret
from app.webhooks.urls import Resolver, UrlPolicy, check

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; ``InvalidInput`` naming each field."""
    if not isinstance(data, Mapping):
        raise InvalidInput("expected a JSON object", details=[{"path": "", "reason": "expected an object"}])
    try:
        return model.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise InvalidInput.from_pydantic(exc) from exc


def _summary(sub: WebhookSubscription) -> dict[str, Any]:
    return {"url": sub.url, "events": sub.events, "active": sub.active}


def to_out(sub: WebhookSubscription, secret: str | None = None) -> SubscriptionOut:
    """The API shape of ``sub``."""
    return SubscriptionOut(id=sub.id or 0, url=sub.url, events=sub.events, description=sub.description,
                           active=sub.active, created_by=sub.created_by, created_at=sub.created_at,
                           updated_at=sub.updated_at, secret=secret)


def create(session: Session, *, clock: Clock, actor: str, cipher: FieldCipher, data: Any, policy: UrlPolicy,
           resolve: Resolver | None = None) -> tuple[WebhookSubscription, str]:
    """Add a subscription; commits. Returns it with its secret (shown once). Raises ``InvalidInput`` naming
    the field (a URL reaching a private address names ``url``)."""
    spec = parse(SubscriptionIn, data)
    check(spec.url, policy=policy, **({"resolve": resolve} if resolve else {}))
    secret = spec.secret or new_secret()
    now = clock.now()
    sub = WebhookSubscription(url=spec.url, secret_enc=cipher.encrypt(secret, context=CIPHER_CONTEXT),
                              events=list(dict.fromkeys(spec.events)), description=spec.description,
                              created_by=actor, created_at=now, updated_at=now)
    session.add(sub)
    session.flush()
    audit.record(session, clock=clock, actor=actor, action="webhook.subscribed", entity="webhook_subscription",
                 entity_id=sub.id or 0, after=_summary(sub))
    session.commit()
    return sub, secret


def get(session: Session, *, subscription_id: int) -> WebhookSubscription:
    """The subscription, or ``NotFound``."""
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id} does not exist")
    return sub


def list_all(session: Session) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    return list(session.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.id))).all())


def change(session: Session, *, clock: Clock, actor: str, subscription_id: int, data: Any, policy: UrlPolicy,
           resolve: Resolver | None = None) -> WebhookSubscription:
    """Change url, events, description or ``active`` (``active: false`` pauses; queued deliveries wait);
    commits. Raises ``InvalidInput`` or ``NotFound``."""
    patch = parse(SubscriptionPatch, data)
    sub = get(session, subscription_id=subscription_id)
    if patch.url is not None:
        check(patch.url, policy=policy, **({"resolve": resolve} if resolve else {}))
    before = _summary(sub)
    for name, value in patch.model_dump(exclude_none=True).items():
        setattr(sub, name, list(dict.fromkeys(value)) if name == "events" else value)
    sub.updated_at = clock.now()
    session.add(sub)
    audit.record(session, clock=clock, actor=actor, action="webhook.changed", entity="webhook_subscription",
                 entity_id=subscription_id, before=before, after=_summary(sub))
    session.commit()
    return sub


def deliveries(session: Session, *, subscription_id: int, limit: int = 100) -> list[DeliveryOut]:
    """The subscription's delivery log, newest first, each with its attempts."""
    get(session, subscription_id=subscription_id)
    rows = session.exec(select(WebhookDelivery, WebhookEvent)
                        .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
                        .where(WebhookDelivery.subscription_id == subscription_id)
                        .order_by(col(WebhookDelivery.id).desc()).limit(limit)).all()
    ids = [d.id for d, _ in rows]
    attempts: dict[int, list[AttemptOut]] = {}
    for a in session.exec(select(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(ids))
                          .order_by(col(WebhookAttempt.id))).all():
        attempts.setdefault(a.delivery_id, []).append(AttemptOut(at=a.at, outcome=a.outcome,
                                                                 status_code=a.status_code, error=a.error,
                                                                 duration_ms=a.duration_ms))
    return [DeliveryOut(id=d.id or 0, event_type=e.type, msg_id=e.msg_id, incident_id=e.incident_id, state=d.state,
                        attempts=d.attempts, next_attempt_at=d.next_attempt_at, last_status=d.last_status,
                        error=d.error, created_at=d.created_at, finished_at=d.finished_at,
                        log=attempts.get(d.id or 0, [])) for d, e in rows]
