"""What pages and sockets are sent: small dicts built from the selectors. No counts of people
leave through here except a person's own queue position (theirs alone, not a statistic)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from directory.selectors import help_resources_for, legal_notice_for
from helpline import capacity as cap
from helpline import selectors
from helpline.models import (
    CallerType,
    Concern,
    Conversation,
    ConversationState,
    Counsellor,
    CounsellorRole,
    HeardVia,
    Helpline,
    Offered,
    SafeguardingCategory,
)

CALLER_CHOICES = [(c.value, c.label) for c in CallerType if c != CallerType.NOT_SAID]
HEARD_CHOICES = [(c.value, c.label) for c in HeardVia if c != HeardVia.NOT_SAID]
CONCERN_CHOICES = list(Concern.choices)
OFFERED_CHOICES = list(Offered.choices)
SAFEGUARDING_CHOICES = list(SafeguardingCategory.choices)


def status(helpline: Helpline, *, at: datetime) -> dict:
    capacity = selectors.helpline_capacity(helpline, at=at)
    answer = {"open": capacity.open_now is True, "accepting": capacity.accepting,
              "chat_free_now": capacity.chat_free_now, "reason": capacity.reason,
              "estimated_wait_minutes": cap.estimated_wait_minutes(
                  position=capacity.waiting + 1, capacity=capacity) if capacity.accepting
              else None, "chat_url": helpline.resource.url}
    if not capacity.accepting:
        answer["other_help"] = other_help(helpline, at=at)
    return answer


def other_help(helpline: Helpline, *, at: datetime) -> list[dict]:
    """Other help open now: phone numbers only while the line is open; self-help always."""
    resources = help_resources_for(organisation=helpline.resource.organisation, country=None,
                                   language="en", at=at)
    items = []
    for resource in resources:
        if resource.pk == helpline.resource_id:
            continue
        open_now = resource.open_now
        phone = resource.phone if resource.phone and open_now is True else None
        if not phone and not resource.url:
            continue
        if resource.kind in ("helpline", "chat") and open_now is not True:
            continue  # a live line that is closed (or hours unknown) is not "open now"
        items.append({"name": resource.name, "kind": resource.kind, "phone": phone,
                      "url": resource.url or None, "description": resource.description[:300]})
    return items[:8]


def person_view(conversation: Conversation, *, after: int) -> dict:
    state, next_sequence, counsellor_id, counsellor_name = Conversation.objects.filter(
        pk=conversation.pk).values_list("state", "next_sequence", "counsellor_id",
                                        "counsellor__display_name").get()
    return person_view_of(conversation, state=state, next_sequence=next_sequence,
                          counsellor_id=counsellor_id, counsellor_name=counsellor_name,
                          messages=selectors.messages_after(conversation, after=after))


def person_view_of(conversation: Conversation, *, state: str, next_sequence: int,
                   counsellor_id: int | None, counsellor_name: str | None,
                   messages: list[dict]) -> dict:
    """The person's view from a conversation's state and messages already read (the socket
    relay's batched read, or person_view's). Reads the database only while waiting (queue
    position and wait)."""
    conversation.state, conversation.next_sequence = state, next_sequence
    conversation.counsellor_id = counsellor_id
    view = {"state": conversation.state, "messages": messages,
            "last_sequence": conversation.next_sequence - 1}
    if conversation.state == ConversationState.WAITING:
        position = selectors.queue_position(conversation)
        capacity = selectors.helpline_capacity(conversation.helpline)
        view["queue_position"] = position
        view["estimated_wait_minutes"] = cap.estimated_wait_minutes(position=position,
                                                                    capacity=capacity)
    if counsellor_id:
        view["counsellor"] = counsellor_name
    return view


def _conversation_row(conversation: Conversation, *, at: datetime) -> dict:
    return {"id": str(conversation.pk), "state": conversation.state,
            "caller_type": conversation.get_caller_type_display(),
            "heard_via": conversation.get_heard_via_display(),
            "waiting_seconds": int((at - conversation.created_at).total_seconds())
            if conversation.state == ConversationState.WAITING else None,
            "counsellor": conversation.counsellor.display_name if conversation.counsellor_id
            else None, "counsellor_id": conversation.counsellor_id}


def console_state(counsellor: Counsellor, *, at: datetime) -> dict:
    helpline = counsellor.helpline
    supervisor = counsellor.role != CounsellorRole.COUNSELLOR
    capacity = selectors.helpline_capacity(helpline, at=at)
    live = selectors.live_conversations(helpline) if supervisor else []
    return {
        "me": {"id": counsellor.pk, "name": counsellor.display_name, "role": counsellor.role,
               "presence": counsellor.presence},
        "open": capacity.open_now is True, "slots": capacity.slots, "free": capacity.free,
        "queue": [_conversation_row(c, at=at) for c in selectors.queue(helpline)],
        "mine": [_conversation_row(c, at=at) for c in selectors.my_conversations(counsellor)],
        "live": [_conversation_row(c, at=at) for c in live],
        "flags": [{"id": f.pk, "conversation": str(f.conversation_id), "category":
                   f.get_category_display(), "acknowledge_by": f.acknowledge_by.isoformat(),
                   "overdue": f.acknowledge_by < at, "reraised": f.reraised_count}
                  for f in selectors.open_flags(helpline)] if supervisor else [],
        "colleagues": [{"id": c.pk, "name": c.display_name, "role": c.role,
                        "presence": c.presence}
                       for c in selectors.counsellors_on(helpline) if c.pk != counsellor.pk],
    }


def staff_view(conversation: Conversation, counsellor: Counsellor, *, after: int) -> dict:
    view = {**_conversation_row(conversation, at=timezone.now()),
            "messages": selectors.messages_after(conversation, after=after),
            "last_sequence": conversation.next_sequence - 1,
            "mine": conversation.counsellor_id == counsellor.pk,
            "policy": conversation.helpline.safeguarding_policy}
    if after == 0:
        view["snippets"] = snippets(conversation)
        view["legal_notice"] = legal_notice(conversation)
    return view


def snippets(conversation: Conversation) -> list[dict]:
    """Signposting from the directory (confirmed entries only), as text to insert."""
    resources = help_resources_for(
        organisation=conversation.helpline.resource.organisation,
        country=conversation.country or None, language="en")
    items = []
    for resource in resources[:10]:
        if resource.pk == conversation.helpline.resource_id:
            continue
        parts = [resource.name]
        if resource.phone and resource.open_now is True:
            parts.append(f"phone {resource.phone} (open now)")
        if resource.url:
            parts.append(resource.url)
        items.append({"name": resource.name, "text": " - ".join(parts)})
    return items


def legal_notice(conversation: Conversation) -> dict | None:
    country = conversation.country or _first_country(conversation.helpline)
    if not country:
        return None
    notice = legal_notice_for(organisation=conversation.helpline.resource.organisation,
                              jurisdiction=country)
    if notice is None:
        return None
    statutes = [f"{s.name} {s.section}".strip() + f": {s.offence_summary}"
                + (f" Maximum penalty: {s.max_penalty}." if s.max_penalty else "")
                for s in notice.statutes.all()]
    return {"jurisdiction": notice.jurisdiction, "text": " ".join(statutes)}


def _first_country(helpline: Helpline) -> str:
    countries = [c for c in (helpline.resource.countries or []) if c != "*"]
    return countries[0] if countries else ""
