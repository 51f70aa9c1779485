"""Retention of helpline conversations: past the organisation's window they are purged."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from helpline import sealing
from helpline.models import ContactRecord, Conversation, ConversationState, Helpline, Message
from organisations.services import Actor, audit_record


def conversations_purge_expired(*, at: datetime | None = None) -> int:
    """Past the organisation's window: messages deleted, the data key destroyed (so any copy of
    the ciphertexts, also in backups, is unreadable), token and resume hashes cleared. What is
    left is timings and categories for the metrics; contact records keep only categories."""
    at = at or timezone.now()
    purged = 0
    for helpline in Helpline.objects.select_related("organisation"):
        expired = Conversation.objects.filter(
            helpline=helpline, purged_at__isnull=True,
            created_at__lt=at - timedelta(days=helpline.retention_days)).exclude(
            state__in=(ConversationState.WAITING, ConversationState.ACTIVE))
        ids = list(expired.values_list("pk", flat=True)[:5000])
        if ids:
            purged += _purge(helpline, ids, at)
    return purged


def _purge(helpline: Helpline, ids: list, at: datetime) -> int:
    with transaction.atomic():
        Message.objects.filter(conversation_id__in=ids).delete()
        ContactRecord.objects.filter(conversation_id__in=ids).update(note="")
        count = Conversation.objects.filter(pk__in=ids).update(
            data_key=sealing.DESTROYED, token_hash=None, resume_hash=None, resume_expires_at=None,
            purged_at=at)
        audit_record(organisation=helpline.organisation, actor=Actor.system(),
                     action="helpline.purged", target=helpline,
                     changes={"conversations": count, "retention_days": helpline.retention_days})
    return count
