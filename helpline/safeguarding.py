"""Safeguarding flags: raised by a counsellor, acknowledged by a supervisor, re-raised when
overdue. Each write is one transaction with its audit row; the queue is told on commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, Forbidden
from helpline import notify
from helpline.models import (
    Conversation,
    Counsellor,
    CounsellorRole,
    SafeguardingCategory,
    SafeguardingFlag,
)
from helpline.services import checked_choice
from organisations.services import Actor, audit_record


def flag_raise(*, conversation: Conversation, by: Counsellor, category: str,
               at: datetime | None = None) -> SafeguardingFlag:
    at = at or timezone.now()
    category = checked_choice(category, SafeguardingCategory, "category", "")
    helpline = conversation.helpline
    with transaction.atomic():
        flag = SafeguardingFlag.objects.create(
            conversation=conversation, helpline=helpline, category=category, raised_by=by,
            raised_at=at, acknowledge_by=at + timedelta(minutes=helpline.acknowledgement_minutes))
        audit_record(organisation=helpline.organisation, actor=Actor(user=by.user),
                     action="helpline.safeguarding_raised", target=flag,
                     changes={"category": category, "conversation": str(conversation.pk)})
        notify.queue_changed(helpline.pk)
    return flag


def flag_acknowledge(*, flag: SafeguardingFlag, by: Counsellor,
                     at: datetime | None = None) -> SafeguardingFlag:
    if by.role == CounsellorRole.COUNSELLOR or by.helpline_id != flag.helpline_id:
        raise Forbidden("A supervisor acknowledges safeguarding flags.")
    with transaction.atomic():
        updated = SafeguardingFlag.objects.filter(pk=flag.pk, acknowledged_at__isnull=True) \
            .update(acknowledged_by=by, acknowledged_at=at or timezone.now())
        if not updated:
            raise Conflict("This flag was already acknowledged.", field="flag")
        flag.refresh_from_db()
        audit_record(organisation=flag.helpline.organisation, actor=Actor(user=by.user),
                     action="helpline.safeguarding_acknowledged", target=flag)
        notify.queue_changed(flag.helpline_id)
    return flag


def flags_reraise_overdue(*, at: datetime | None = None) -> int:
    """Unacknowledged past their deadline: re-raised (a new deadline, an audit row, a ping)."""
    at = at or timezone.now()
    count = 0
    overdue = SafeguardingFlag.objects.select_related("helpline__organisation").filter(
        acknowledged_at__isnull=True, acknowledge_by__lt=at)
    for flag in overdue[:500]:
        with transaction.atomic():
            flag.reraised_count += 1
            flag.acknowledge_by = at + timedelta(minutes=flag.helpline.acknowledgement_minutes)
            flag.save(update_fields=["reraised_count", "acknowledge_by"])
            audit_record(organisation=flag.helpline.organisation, actor=Actor.system(),
                         action="helpline.safeguarding_reraised", target=flag,
                         changes={"reraised_count": flag.reraised_count})
            notify.queue_changed(flag.helpline_id)
        count += 1
    return count
