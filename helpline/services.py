"""Writes for the helpline: each one transaction with its audit row; notifications on commit.

The database is the truth: a message is committed before anyone is told about it, and the
channel layer (helpline.notify) only says "conversation X changed, read from sequence n".
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign
from core.crypto import DecryptionError
from core.db import server_bound_cursor
from core.errors import Conflict, DomainError, Forbidden, InvalidInput, PayloadTooLarge
from core.vocabulary import OutcomeKind
from evaluation.models import Exposure
from evaluation.services import outcome_record, outcome_record_like
from helpline import notify, sealing
from helpline.models import (
    CallerType,
    Concern,
    ContactRecord,
    Conversation,
    ConversationState,
    Counsellor,
    CounsellorRole,
    HeardVia,
    Helpline,
    Message,
    Offered,
    Presence,
    Sender,
)
from helpline.selectors import Snapshot, helpline_capacity
from interventions.links import BadLink, via_target
from organisations.models import Organisation
from organisations.selectors import programmes_visible_to
from organisations.services import Actor, audit_record

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
MAX_NOTE_CHARS = 4000
RESUME_VALID_DAYS = 7
ABANDON_AFTER_SECONDS = 120  # a waiting page that stopped polling/heartbeating has gone


class HelplineUnavailable(DomainError):
    """Closed, nobody on shift, or the queue is full: answered plainly, with other help."""

    status_code = 409


@dataclass(frozen=True)
class Started:
    conversation: Conversation
    token: str
    resume_code: str


@dataclass(frozen=True)
class Attribution:
    campaign: Campaign | None
    exposure: Exposure | None
    referral_code: str


# --- attribution -------------------------------------------------------------------------------

def attribution_for(*, helpline: Helpline, via: str = "", referral_code: str = "") -> Attribution:
    """The campaign a person came from: a signed `via` reference naming this helpline's own
    directory entry, else a referral code of a campaign the helpline works with. A bad
    reference is treated as none at all (never an error)."""
    exposure = _exposure_from_via(helpline, via) if via else None
    if exposure is not None:
        return Attribution(campaign=exposure.campaign, exposure=exposure,
                           referral_code=exposure.campaign.referral_code)
    code = (referral_code or "").strip().upper()[:32]
    campaign = (Campaign.objects.filter(
        referral_code=code, organisation_id__in=programmes_visible_to(helpline.organisation))
        .first() if code else None)
    return Attribution(campaign=campaign, exposure=None, referral_code=code if campaign else "")


def _exposure_from_via(helpline: Helpline, via: str) -> Exposure | None:
    try:
        target = via_target(via)
    except BadLink:
        return None
    if target.resource_id != helpline.resource_id:
        return None
    return (Exposure.objects.select_related("campaign").filter(pk=target.exposure_id)
            .first())


def _outcome_record(*, conversation: Conversation, attribution: Attribution,
                    at: datetime) -> None:
    """The helpline_contact outcome, attributed to the exposure or the referral code."""
    if attribution.campaign is None:
        return
    outcome_record(kind=OutcomeKind.HELPLINE_CONTACT, idempotency_key=_contact_key(conversation),
                   exposure=attribution.exposure, campaign=attribution.campaign,
                   reported_by_id=conversation.organisation_id, at=at)


def _contact_key(conversation: Conversation) -> str:
    return f"helpline:{conversation.pk}"


def _queue_outcome_record(*, conversation: Conversation, kind: str, at: datetime) -> None:
    """helpline_answered / helpline_abandoned: attributed as the conversation's helpline_contact
    is (the same exposure or campaign; nothing without one), once per conversation."""
    outcome_record_like(
        reported_by_id=conversation.organisation_id, like_key=_contact_key(conversation),
        kind=kind, idempotency_key=f"{kind.replace('_', '-')}:{conversation.pk}", at=at)


# --- the person --------------------------------------------------------------------------------

def checked_choice(value: str, choices: type, field: str, default: str) -> str:
    value = (value or default).strip()
    if value not in choices.values:  # type: ignore[attr-defined]
        raise InvalidInput(f"Use one of: {', '.join(choices.values)}.",  # type: ignore[attr-defined]
                           field=field)
    return value


def conversation_start(*, helpline: Helpline, caller_type: str = "", heard_via: str = "",
                       via: str = "", referral_code: str = "",
                       at: datetime | None = None) -> Started:
    at = at or timezone.now()
    caller_type = checked_choice(caller_type, CallerType, "caller_type", CallerType.NOT_SAID)
    heard_via = checked_choice(heard_via, HeardVia, "heard_via", HeardVia.NOT_SAID)
    attribution = attribution_for(helpline=helpline, via=via, referral_code=referral_code)
    if attribution.exposure is not None:
        heard_via = HeardVia.SIGNED_LINK
    with transaction.atomic():
        Helpline.objects.select_for_update().filter(pk=helpline.pk).first()  # one start at a time
        status = helpline_capacity(helpline, at=at)
        if not status.accepting:
            raise HelplineUnavailable("The chat is not available right now.", reason=status.reason)
        token, code = sealing.conversation_token(), sealing.resume_code()
        _, wrapped = sealing.data_key_new(organisation_id=helpline.organisation_id)
        conversation = Conversation.objects.create(
            helpline=helpline, organisation=helpline.organisation,
            token_hash=sealing.token_hash(token), resume_hash=sealing.resume_hash(code),
            resume_expires_at=at + timedelta(days=min(RESUME_VALID_DAYS, helpline.retention_days)),
            caller_type=caller_type, heard_via=heard_via, campaign=attribution.campaign,
            referral_code=attribution.referral_code,
            country=(attribution.exposure.country if attribution.exposure else "")[:2],
            data_key=wrapped, created_at=at, person_seen_at=at)
        _outcome_record(conversation=conversation, attribution=attribution, at=at)
        audit_record(organisation=helpline.organisation, actor=Actor.system(),
                     action="helpline.conversation_started", target=conversation,
                     changes={"caller_type": caller_type, "heard_via": heard_via,
                              "campaign": attribution.campaign.pk if attribution.campaign
                              else None})
        notify.queue_changed(helpline.pk)
    return Started(conversation=conversation, token=token, resume_code=code)


def conversation_resume(*, conversation: Conversation, at: datetime | None = None) -> str:
    """A fresh token for a conversation reopened by its resume code (the old token dies)."""
    token = sealing.conversation_token()
    Conversation.objects.filter(pk=conversation.pk).update(
        token_hash=sealing.token_hash(token), person_seen_at=at or timezone.now())
    return token


def person_seen(*, conversation: Conversation, at: datetime | None = None) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(person_seen_at=at or timezone.now())


def person_leave(*, conversation: Conversation, at: datetime | None = None) -> Conversation:
    """The person closed the chat (or quick-exited): waiting → abandoned, active → ended."""
    at = at or timezone.now()
    with transaction.atomic():
        row = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if row.state == ConversationState.WAITING:
            _set_state(row, ConversationState.ABANDONED, at, action="helpline.abandoned")
            _queue_outcome_record(conversation=row, kind=OutcomeKind.HELPLINE_ABANDONED, at=at)
        elif row.state == ConversationState.ACTIVE:
            _system_message(row, "The person has left the chat.", at=at)
            _set_state(row, ConversationState.ENDED, at, action="helpline.person_left")
    return row


def _set_state(row: Conversation, state: str, at: datetime, *, action: str,
               actor: Actor | None = None) -> None:
    row.state = state
    row.ended_at = at
    row.save(update_fields=["state", "ended_at"])
    audit_record(organisation=row.organisation, actor=actor or Actor.system(), action=action,
                 target=row, changes={"state": state})
    notify.conversation_changed(row.pk, row.next_sequence - 1)
    notify.queue_changed(row.helpline_id)


def abandon_stale_waiting(*, at: datetime | None = None) -> int:
    """People whose waiting page went quiet (no heartbeat) left the queue: abandoned."""
    at = at or timezone.now()
    stale = Conversation.objects.filter(
        state=ConversationState.WAITING,
        person_seen_at__lt=at - timedelta(seconds=ABANDON_AFTER_SECONDS))
    count = 0
    for conversation in stale.only("pk")[:500]:
        person_leave(conversation=conversation, at=at)
        count += 1
    return count


# --- messages ----------------------------------------------------------------------------------

def message_post(*, conversation: Conversation, text: object, sender: str,
                 counsellor: Counsellor | None = None, at: datetime | None = None) -> dict:
    """Commit one message (sealed, next sequence number) and notify both sides."""
    text = _message_text(text)
    at = at or timezone.now()
    if connection.vendor == "postgresql":
        sequence = _append_in_one_statement(conversation, text, sender=sender,
                                            counsellor=counsellor, at=at)
        if sequence is not None:
            notify.conversation_changed(conversation.pk, sequence)
            return {"sequence": sequence}
        # Nothing was written: the checks below say why, on the locked row.
    with transaction.atomic():
        row = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if sender == Sender.PERSON and row.state not in (ConversationState.WAITING,
                                                         ConversationState.ACTIVE):
            raise Conflict("This conversation has ended.", field="state")
        if sender == Sender.COUNSELLOR and (row.state != ConversationState.ACTIVE
                                            or row.counsellor_id != getattr(counsellor, "pk", 0)):
            raise Forbidden("Only the counsellor in this conversation can write.")
        message = _append(row, text, sender=sender, counsellor=counsellor, at=at)
    return {"sequence": message.sequence}


# One round trip instead of five (BEGIN, lock, insert, update, COMMIT): the UPDATE takes the
# row lock and the next sequence number, the INSERT writes the sealed message, in one
# statement (so one transaction) only when the conversation takes messages from this sender.
# Measured by bench/helpline_chat.py: every round trip is on the message's critical path.
_APPEND = """
WITH taken AS (
    UPDATE helpline_conversation
       SET next_sequence = next_sequence + 1,
           person_seen_at = CASE WHEN %(person)s THEN %(at)s ELSE person_seen_at END
     WHERE id = %(conversation)s AND purged_at IS NULL AND data_key <> ''
       AND state = ANY(%(states)s)
       AND (%(counsellor)s::bigint IS NULL OR counsellor_id = %(counsellor)s::bigint)
 RETURNING next_sequence - 1 AS sequence
)
INSERT INTO helpline_message (conversation_id, sequence, sender, counsellor_id, body, created_at)
SELECT %(conversation)s, sequence, %(sender)s, %(counsellor)s::bigint, %(body)s, %(at)s
  FROM taken
RETURNING sequence
"""


def _append_in_one_statement(conversation: Conversation, text: str, *, sender: str,
                             counsellor: Counsellor | None, at: datetime) -> int | None:
    """The sequence number written, or None when the conversation does not take it (ended,
    purged, not this counsellor's): the caller then raises the right error."""
    if sender == Sender.PERSON:
        states, counsellor_id = [ConversationState.WAITING, ConversationState.ACTIVE], None
    elif sender == Sender.COUNSELLOR and counsellor is not None:
        states, counsellor_id = [ConversationState.ACTIVE], counsellor.pk
    else:
        return None
    try:
        key = sealing.data_key_open(conversation.data_key,
                                    organisation_id=conversation.organisation_id)
    except DecryptionError:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_APPEND, {
            "conversation": conversation.pk, "person": sender == Sender.PERSON, "at": at,
            "states": [str(s) for s in states], "counsellor": counsellor_id,
            "sender": str(sender), "body": sealing.seal_body(text, key=key, field="message")})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


@dataclass(frozen=True)
class Post:
    """One message for `messages_post_batch`: the conversation the sender holds (checked at
    hello/watch), the text as sent, and who sends it."""

    conversation: Conversation
    text: object
    sender: str
    counsellor: Counsellor | None = None


_LOCK_MANY = """
SELECT c.id, c.state, c.counsellor_id, c.next_sequence, c.data_key, c.organisation_id,
       co.display_name
  FROM helpline_conversation c
  LEFT JOIN helpline_counsellor co ON co.id = c.counsellor_id
 WHERE c.id = ANY(%(ids)s::uuid[]) AND c.purged_at IS NULL
 ORDER BY c.id
   FOR UPDATE OF c
"""

# The batch's rows and the conversations' new next_sequence, in one statement (one round trip).
_APPEND_MANY = """
WITH bumped AS (
    UPDATE helpline_conversation c
       SET next_sequence = v.next_sequence,
           person_seen_at = CASE WHEN v.person THEN %(at)s ELSE c.person_seen_at END
      FROM unnest(%(bump_ids)s::uuid[], %(bump_next)s::int[], %(bump_person)s::bool[])
           AS v(id, next_sequence, person)
     WHERE c.id = v.id
)
INSERT INTO helpline_message (conversation_id, sequence, sender, counsellor_id, body, created_at)
SELECT m.conversation_id, m.sequence, m.sender, m.counsellor_id, m.body, %(at)s
  FROM unnest(%(ids)s::uuid[], %(sequences)s::int[], %(senders)s::text[],
              %(counsellors)s::bigint[], %(bodies)s::text[])
       AS m(conversation_id, sequence, sender, counsellor_id, body)
"""


def messages_post_batch(posts: list[Post], *, at: datetime | None = None,
                        committed: dict[uuid.UUID, Snapshot] | None = None
                        ) -> list[int | DomainError]:
    """Commit many messages in ONE transaction (the socket relay's batch, helpline.relay):
    for each post, in order, its sequence number or the DomainError that refused it (text
    missing or too long, conversation ended or purged, not this counsellor's).

    The conversations' rows are locked in id order (two processes' batches never deadlock)
    and each message takes the next number on the locked row, so sequence numbers stay
    gapless and ordered per conversation, in arrival order within the batch. Any other error
    (the database) is raised: nothing of the batch is committed.

    `committed`, if given, receives per conversation written what a read right after the
    commit would answer (its state, counsellor and the batch's messages, as messages_after
    gives them): the relay hands it to sockets of its own process that had seen everything
    before, instead of reading it back."""
    at = at or timezone.now()
    results: list[int | DomainError | None] = [None] * len(posts)
    texts: dict[int, str] = {}
    for i, post in enumerate(posts):
        try:
            texts[i] = _message_text(post.text)
        except DomainError as error:
            results[i] = error
    if not texts:
        return results  # type: ignore[return-value]
    if connection.vendor != "postgresql":
        for i in texts:
            post = posts[i]
            try:
                results[i] = message_post(conversation=post.conversation, text=texts[i],
                                          sender=post.sender, counsellor=post.counsellor,
                                          at=at)["sequence"]
            except DomainError as error:
                results[i] = error
        return results  # type: ignore[return-value]
    ids = sorted({posts[i].conversation.pk for i in texts})
    rows: list = []
    columns: dict[str, list] = {"ids": [], "sequences": [], "senders": [], "counsellors": [],
                                "bodies": []}
    with transaction.atomic(), server_bound_cursor() as cursor:
        cursor.execute(_LOCK_MANY, {"ids": ids})
        rows = cursor.fetchall()
        locked = {row[0]: row for row in rows}
        following: dict[uuid.UUID, int] = {}
        person: set[uuid.UUID] = set()
        for i, text in texts.items():
            post = posts[i]
            row = locked.get(post.conversation.pk)
            refusal = _refusal(row, post)
            key = None
            if refusal is None:
                try:
                    key = sealing.data_key_open_cached(row[4], organisation_id=row[5])
                except DecryptionError:
                    refusal = Conflict("This conversation has ended.", field="state")
            if refusal is not None:
                results[i] = refusal
                continue
            conversation_id = row[0]
            sequence = following.get(conversation_id, row[3])
            following[conversation_id] = sequence + 1
            if post.sender == Sender.PERSON:
                person.add(conversation_id)
            results[i] = sequence
            if committed is not None:
                if conversation_id not in committed:
                    committed[conversation_id] = Snapshot(
                        state=row[1], next_sequence=row[3], counsellor_id=row[2],
                        counsellor_name=row[6])
                committed[conversation_id].messages.append({
                    "sequence": sequence, "sender": str(post.sender),
                    "name": (row[6] or "") if post.sender == Sender.COUNSELLOR else "",
                    "text": text, "at": at.isoformat()})
                committed[conversation_id].next_sequence = sequence + 1
            columns["ids"].append(conversation_id)
            columns["sequences"].append(sequence)
            columns["senders"].append(str(post.sender))
            columns["counsellors"].append(post.counsellor.pk if post.counsellor else None)
            columns["bodies"].append(sealing.seal_body(text, key=key, field="message"))
        if following:
            bump = sorted(following)
            cursor.execute(_APPEND_MANY, {
                **columns, "at": at, "bump_ids": bump,
                "bump_next": [following[c] for c in bump],
                "bump_person": [c in person for c in bump]})
    return results  # type: ignore[return-value]


def _refusal(row: tuple | None, post: Post) -> DomainError | None:
    """Why the locked row does not take this post (message_post's checks), or None."""
    if post.sender == Sender.PERSON:
        if row is None or row[1] not in (ConversationState.WAITING, ConversationState.ACTIVE):
            return Conflict("This conversation has ended.", field="state")
        return None
    if post.sender == Sender.COUNSELLOR and post.counsellor is not None:
        if row is None or row[1] != ConversationState.ACTIVE or row[2] != post.counsellor.pk:
            return Forbidden("Only the counsellor in this conversation can write.")
        return None
    return Forbidden("Only the person or the counsellor can write.")


def _message_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("Write a message.", field="text")
    if len(text) > MAX_MESSAGE_CHARS:
        raise PayloadTooLarge(
            f"Messages can be at most {MAX_MESSAGE_CHARS} characters; this one has "
            f"{len(text)}. Please split it.", field="text")
    try:
        text.encode()  # a lone surrogate (a JSON "\\ud800" escape) cannot be sealed as UTF-8
    except UnicodeEncodeError:
        raise InvalidInput("Write the message as text.", field="text") from None
    return text


def _append(row: Conversation, text: str, *, sender: str, counsellor: Counsellor | None,
            at: datetime) -> Message:
    """Caller holds the conversation row lock: sequence numbers are gapless and ordered."""
    key = sealing.data_key_open(row.data_key, organisation_id=row.organisation_id)
    message = Message.objects.create(
        conversation=row, sequence=row.next_sequence, sender=sender, counsellor=counsellor,
        body=sealing.seal_body(text, key=key, field="message"), created_at=at)
    row.next_sequence += 1
    fields = ["next_sequence"]
    if sender == Sender.PERSON:
        row.person_seen_at = at
        fields.append("person_seen_at")
    row.save(update_fields=fields)
    notify.conversation_changed(row.pk, message.sequence)
    return message


def _system_message(row: Conversation, text: str, *, at: datetime) -> None:
    with contextlib.suppress(DecryptionError):  # a purged conversation takes no more
        _append(row, text, sender=Sender.SYSTEM, counsellor=None, at=at)


# --- counsellors -------------------------------------------------------------------------------

def counsellor_add(*, helpline: Helpline, user: object, display_name: str, actor: Actor,
                   role: str = CounsellorRole.COUNSELLOR) -> Counsellor:
    with transaction.atomic():
        counsellor = Counsellor.objects.create(helpline=helpline, user=user, role=role,
                                               display_name=display_name[:60])
        audit_record(organisation=helpline.organisation, actor=actor,
                     action="helpline.counsellor_added", target=counsellor,
                     changes={"role": role})
    return counsellor


def counsellor_presence_set(*, counsellor: Counsellor, presence: str,
                            at: datetime | None = None) -> Counsellor:
    presence = checked_choice(presence, Presence, "presence", Presence.OFFLINE)
    at = at or timezone.now()
    with transaction.atomic():
        changed = counsellor.presence != presence
        counsellor.presence, counsellor.last_seen_at = presence, at
        counsellor.save(update_fields=["presence", "last_seen_at"])
        if changed:
            audit_record(organisation=counsellor.helpline.organisation,
                         actor=Actor(user=counsellor.user), action=f"helpline.{presence}",
                         target=counsellor)
    notify.queue_changed(counsellor.helpline_id)
    return counsellor


def counsellor_heartbeat(*, counsellor: Counsellor, at: datetime | None = None) -> None:
    Counsellor.objects.filter(pk=counsellor.pk).update(last_seen_at=at or timezone.now())


def conversation_claim(*, counsellor: Counsellor, conversation_id: uuid.UUID | None = None,
                       at: datetime | None = None) -> Conversation | None:
    """Take the oldest waiting conversation (or the one named) with FOR UPDATE SKIP LOCKED:
    two counsellors claiming at once get two different people, never the same one."""
    at = at or timezone.now()
    with transaction.atomic():
        me = Counsellor.objects.select_for_update().get(pk=counsellor.pk)
        load = Conversation.objects.filter(counsellor=me, state=ConversationState.ACTIVE).count()
        if load >= me.helpline.chats_per_counsellor:
            raise Conflict(f"You already have {load} chats open.", field="conversation")
        rows = Conversation.objects.filter(helpline_id=me.helpline_id,
                                           state=ConversationState.WAITING)
        if conversation_id is not None:
            rows = rows.filter(pk=conversation_id)
        row = rows.order_by("created_at").select_for_update(skip_locked=True).first()
        if row is None:
            return None
        row.state, row.counsellor, row.answered_at = ConversationState.ACTIVE, me, at
        row.save(update_fields=["state", "counsellor", "answered_at"])
        _queue_outcome_record(conversation=row, kind=OutcomeKind.HELPLINE_ANSWERED, at=at)
        audit_record(organisation=row.organisation, actor=Actor(user=me.user),
                     action="helpline.claimed", target=row, changes={"counsellor": me.pk})
        _system_message(row, f"{me.display_name} has joined the chat.", at=at)
        notify.queue_changed(row.helpline_id)
    return row


def conversation_transfer(*, conversation: Conversation, by: Counsellor, to: Counsellor,
                          at: datetime | None = None) -> Conversation:
    """Hand an active chat to a colleague (its counsellor, or a supervisor reassigning)."""
    at = at or timezone.now()
    if to.helpline_id != conversation.helpline_id:
        raise InvalidInput("Choose a colleague on this helpline.", field="to")
    with transaction.atomic():
        row = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if row.state != ConversationState.ACTIVE:
            raise Conflict("Only a live chat can be transferred.", field="state")
        if row.counsellor_id != by.pk and by.role == CounsellorRole.COUNSELLOR:
            raise Forbidden("Only this chat's counsellor or a supervisor can transfer it.")
        previous = row.counsellor_id
        row.counsellor = to
        row.save(update_fields=["counsellor"])
        audit_record(organisation=row.organisation, actor=Actor(user=by.user),
                     action="helpline.transferred", target=row,
                     changes={"from": previous, "to": to.pk})
        _system_message(row, f"{to.display_name} has taken over the chat.", at=at)
        notify.queue_changed(row.helpline_id)
    return row


def conversation_end(*, conversation: Conversation, by: Counsellor, caller_type: str,
                     concerns: list, offered: list, note: str = "",
                     at: datetime | None = None) -> ContactRecord:
    """End the chat with its contact record (categories, and a note sealed with its key)."""
    at = at or timezone.now()
    caller_type = checked_choice(caller_type, CallerType, "caller_type", CallerType.NOT_SAID)
    concerns = _choices(concerns, Concern, "concerns")
    offered = _choices(offered, Offered, "offered")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(f"A note of at most {MAX_NOTE_CHARS} characters.", field="note")
    with transaction.atomic():
        row = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if row.counsellor_id != by.pk and by.role == CounsellorRole.COUNSELLOR:
            raise Forbidden("Only this chat's counsellor or a supervisor can end it.")
        if hasattr(row, "contact_record"):
            raise Conflict("This conversation already has a contact record.", field="state")
        key = sealing.data_key_open(row.data_key, organisation_id=row.organisation_id)
        record = ContactRecord.objects.create(
            helpline_id=row.helpline_id, conversation=row, counsellor=by,
            caller_type=caller_type, concerns=concerns, offered=offered,
            note=sealing.seal_body(note, key=key, field="note") if note else "",
            day=timezone.localdate(at))
        if row.state in (ConversationState.WAITING, ConversationState.ACTIVE):
            _system_message(row, "The counsellor has ended the chat. Take care.", at=at)
            _set_state(row, ConversationState.ENDED, at, action="helpline.ended",
                       actor=Actor(user=by.user))
        audit_record(organisation=row.organisation, actor=Actor(user=by.user),
                     action="helpline.contact_recorded", target=record,
                     changes={"caller_type": caller_type, "concerns": concerns,
                              "offered": offered})
    return record


def _choices(values: object, choices: type, field: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput("Give a list of categories.", field=field)
    unknown = sorted(set(values) - set(choices.values))  # type: ignore[attr-defined]
    if unknown:
        raise InvalidInput(f"Unknown: {', '.join(unknown)}.", field=field)
    return sorted(set(values))


# --- setup -------------------------------------------------------------------------------------

def helpline_create(*, organisation: Organisation, resource: object, slug: str, name: str,
                    actor: Actor, **fields: object) -> Helpline:
    if getattr(resource, "kind", None) != "chat":
        raise InvalidInput("Link a directory entry of kind chat.", field="resource")
    with transaction.atomic():
        helpline = Helpline.objects.create(organisation=organisation, resource=resource,
                                           slug=slug, name=name, **fields)
        audit_record(organisation=organisation, actor=actor, action="helpline.created",
                     target=helpline)
    return helpline
