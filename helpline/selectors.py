"""Reads for the helpline, scoped to the caller: a counsellor's helplines, or a person's token.

Another organisation's conversation, an unknown token and a tampered or expired resume code all
answer None (a 404): nobody learns whether a conversation exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from core.crypto import DecryptionError
from core.db import server_bound_cursor
from directory.selectors import help_resources_for
from helpline import capacity as cap
from helpline import sealing
from helpline.models import (
    Conversation,
    ConversationState,
    Counsellor,
    CounsellorRole,
    Helpline,
    Message,
    PacedCampaign,
    Presence,
    SafeguardingFlag,
)

LIVE = (ConversationState.WAITING, ConversationState.ACTIVE)


def helpline_by_slug(slug: str) -> Helpline | None:
    return Helpline.objects.select_related("resource", "organisation").filter(slug=slug).first()


def helpline_for_resource(resource_id: int) -> Helpline | None:
    return (Helpline.objects.select_related("resource", "organisation")
            .filter(resource_id=resource_id).first())


def conversation_for_token(token: str) -> Conversation | None:
    """The person's own conversation, or None (unknown, tampered or purged token)."""
    if not isinstance(token, str) or not sealing.token_looks_valid(token):
        return None
    return (Conversation.objects.select_related("helpline", "counsellor")
            .filter(token_hash=sealing.token_hash(token), purged_at__isnull=True).first())


def conversation_for_resume_code(code: str, *, at: datetime | None = None) -> Conversation | None:
    if not isinstance(code, str) or not 10 <= len(code) <= 120:
        return None
    return (Conversation.objects.select_related("helpline")
            .filter(resume_hash=sealing.resume_hash(code), purged_at__isnull=True,
                    resume_expires_at__gt=at or timezone.now()).first())


def campaign_signposts_helpline(campaign) -> bool:  # type: ignore[no-untyped-def]
    """Whether a campaign signposts a helpline hosted here: it is paced to one, or a hosted
    helpline's chat entry is among the help its countries, languages and audiences are given
    (``directory.selectors.help_resources_for``, as the launch check reads it; confirmed or
    not). From configuration only, never from conversations: whether the campaign report shows
    the helpline's answered / abandoned figures says nothing about anyone
    (evaluation.reports.context.SIGNPOSTS_HELPLINE; wired in outreach/apps.py)."""
    if PacedCampaign.objects.filter(campaign=campaign).exists():
        return True
    hosted = set(Helpline.objects.values_list("resource_id", flat=True))
    if not hosted:
        return False
    stages = sorted({s.stage for s in campaign.segments.all() if s.stage}) or [None]
    at = timezone.now()
    for country in campaign.countries or [None]:
        for language in campaign.languages or [None]:
            for stage in stages:
                resources = help_resources_for(
                    organisation=campaign.organisation, country=country, language=language,
                    audience=stage, at=at, include_unconfirmed=True)
                if any(r.pk in hosted for r in resources):
                    return True
    return False


# --- staff -------------------------------------------------------------------------------------

def counsellor_for(*, user: object, helpline: Helpline | None = None) -> Counsellor | None:
    """The user's counsellor record (on `helpline`, or their first helpline)."""
    if not getattr(user, "is_authenticated", False):
        return None
    rows = Counsellor.objects.select_related("helpline", "helpline__organisation",
                                             "helpline__resource").filter(user=user)
    if helpline is not None:
        rows = rows.filter(helpline=helpline)
    return rows.order_by("helpline_id").first()


def counsellors_on(helpline: Helpline) -> QuerySet[Counsellor]:
    return Counsellor.objects.filter(helpline=helpline).order_by("display_name")


def staff_conversation(*, counsellor: Counsellor, conversation_id: object) -> Conversation | None:
    """A conversation of the counsellor's own helpline; a counsellor (not a supervisor) reads
    only the queue and their own chats."""
    try:
        rows = Conversation.objects.select_related("helpline", "counsellor").filter(
            pk=conversation_id, helpline_id=counsellor.helpline_id, purged_at__isnull=True)
        conversation = rows.first()
    except (ValueError, TypeError, ValidationError):  # a malformed id is simply not found
        return None
    if conversation is None:
        return None
    if counsellor.role == CounsellorRole.COUNSELLOR and conversation.state != \
            ConversationState.WAITING and conversation.counsellor_id != counsellor.pk:
        return None
    return conversation


def queue(helpline: Helpline) -> list[Conversation]:
    return list(Conversation.objects.filter(helpline=helpline, state=ConversationState.WAITING)
                .order_by("created_at"))


def live_conversations(helpline: Helpline) -> list[Conversation]:
    return list(Conversation.objects.select_related("counsellor")
                .filter(helpline=helpline, state=ConversationState.ACTIVE)
                .order_by("answered_at"))


def my_conversations(counsellor: Counsellor) -> list[Conversation]:
    return list(Conversation.objects.filter(counsellor=counsellor, state=ConversationState.ACTIVE)
                .order_by("answered_at"))


def open_flags(helpline: Helpline) -> list[SafeguardingFlag]:
    return list(SafeguardingFlag.objects.select_related("raised_by")
                .filter(helpline=helpline, acknowledged_at__isnull=True).order_by("raised_at"))


# --- messages ----------------------------------------------------------------------------------

def messages_after(conversation: Conversation, *, after: int = 0,
                   limit: int = 500) -> list[dict]:
    """Messages with a sequence number above `after`, opened with the conversation's key."""
    rows = list(Message.objects.filter(conversation=conversation, sequence__gt=after)
                .select_related("counsellor").order_by("sequence")[:limit])
    if not rows:
        return []
    try:
        key = sealing.data_key_open(conversation.data_key,
                                    organisation_id=conversation.organisation_id)
    except DecryptionError:
        return []
    return [_message_dict(row, key) for row in rows]


def _message_dict(row: Message, key: bytes) -> dict:
    try:
        text = sealing.open_body(row.body, key=key, field="message")
    except DecryptionError:
        text = ""
    name = row.counsellor.display_name if row.counsellor else ""
    return {"sequence": row.sequence, "sender": row.sender, "name": name, "text": text,
            "at": row.created_at.isoformat()}


@dataclass
class Snapshot:
    """A conversation as one batched read saw it (`conversations_after`): what a person's view
    and a console's messages frame are built from."""

    state: str
    next_sequence: int
    counsellor_id: int | None
    counsellor_name: str | None
    messages: list[dict] = field(default_factory=list)

    def after(self, sequence: int) -> list[dict]:
        return [m for m in self.messages if m["sequence"] > sequence]


# Every (conversation, after) pair of one batch in one round trip: the conversation's row and
# its messages above `after` (at most `limit` each), in sequence order.
_AFTER_MANY = """
SELECT c.id, c.state, c.next_sequence, c.counsellor_id, cc.display_name, c.data_key,
       c.organisation_id, m.sequence, m.sender, mc.display_name, m.body, m.created_at
  FROM unnest(%(ids)s::uuid[], %(afters)s::int[]) AS r(id, after)
  JOIN helpline_conversation c ON c.id = r.id
  LEFT JOIN helpline_counsellor cc ON cc.id = c.counsellor_id
  LEFT JOIN LATERAL (
        SELECT sequence, sender, counsellor_id, body, created_at
          FROM helpline_message
         WHERE conversation_id = r.id AND sequence > r.after
         ORDER BY sequence
         LIMIT %(limit)s) m ON true
  LEFT JOIN helpline_counsellor mc ON mc.id = m.counsellor_id
 ORDER BY c.id, m.sequence
"""


def conversations_after(requests: Iterable[tuple[uuid.UUID, int]], *, limit: int = 500
                        ) -> dict[uuid.UUID, Snapshot]:
    """For each (conversation id, after): its state and its messages above `after`, opened
    with its key, as `messages_after` gives them, in one query for the whole batch. Callers
    pass only conversations they were already allowed (the socket's own, or watched after
    `staff_conversation`). A conversation that no longer exists is absent."""
    lowest: dict[uuid.UUID, int] = {}
    for conversation_id, after in requests:
        lowest[conversation_id] = min(after, lowest.get(conversation_id, after))
    if not lowest:
        return {}
    ids = list(lowest)
    with server_bound_cursor() as cursor:
        cursor.execute(_AFTER_MANY, {"ids": ids, "afters": [lowest[i] for i in ids],
                                     "limit": limit})
        rows = cursor.fetchall()
    snapshots: dict[uuid.UUID, Snapshot] = {}
    keys: dict[uuid.UUID, bytes | None] = {}
    for (conversation_id, state, next_sequence, counsellor_id, counsellor_name, wrapped,
         organisation_id, sequence, sender, name, body, created_at) in rows:
        snapshot = snapshots.get(conversation_id)
        if snapshot is None:
            snapshot = snapshots[conversation_id] = Snapshot(
                state=state, next_sequence=next_sequence, counsellor_id=counsellor_id,
                counsellor_name=counsellor_name)
            try:
                keys[conversation_id] = sealing.data_key_open_cached(
                    wrapped, organisation_id=organisation_id)
            except DecryptionError:
                keys[conversation_id] = None  # shredded: no messages, as messages_after
        key = keys[conversation_id]
        if sequence is None or key is None:
            continue
        try:
            text = sealing.open_body(body, key=key, field="message")
        except DecryptionError:
            text = ""
        snapshot.messages.append({"sequence": sequence, "sender": sender, "name": name or "",
                                  "text": text, "at": created_at.isoformat()})
    return snapshots


# --- capacity ----------------------------------------------------------------------------------

def helpline_capacity(helpline: Helpline, *, at: datetime | None = None) -> cap.Capacity:
    at = at or timezone.now()
    online = Counsellor.objects.filter(
        helpline=helpline, presence=Presence.ONLINE,
        last_seen_at__gte=at - timedelta(seconds=cap.PRESENCE_SECONDS)).count()
    counts = Conversation.objects.filter(helpline=helpline, state__in=LIVE).aggregate(
        active=Count("pk", filter=Q(state=ConversationState.ACTIVE)),
        waiting=Count("pk", filter=Q(state=ConversationState.WAITING)))
    return cap.Capacity(open_now=helpline.resource.is_open(at), online=online,
                        chats_each=helpline.chats_per_counsellor, active=counts["active"],
                        waiting=counts["waiting"], queue_limit=helpline.queue_limit,
                        mean_chat_minutes=mean_chat_minutes(helpline, at=at))


def mean_chat_minutes(helpline: Helpline, *, at: datetime) -> float:
    durations = (Conversation.objects
                 .filter(helpline=helpline, answered_at__isnull=False, ended_at__isnull=False,
                         ended_at__gte=at - timedelta(days=14))
                 .annotate(length=ExpressionWrapper(F("ended_at") - F("answered_at"),
                                                    output_field=DurationField()))
                 .values_list("length", flat=True)[:500])
    values = [d.total_seconds() / 60 for d in durations if d is not None]
    if len(values) < cap.MIN_DURATIONS_FOR_MEAN:
        return cap.DEFAULT_CHAT_MINUTES
    return max(1.0, sum(values) / len(values))


def queue_position(conversation: Conversation) -> int:
    """1 = next to be answered; 0 when not waiting."""
    if conversation.state != ConversationState.WAITING:
        return 0
    return Conversation.objects.filter(
        helpline_id=conversation.helpline_id, state=ConversationState.WAITING,
        created_at__lte=conversation.created_at).count()
