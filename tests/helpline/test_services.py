"""The helpline's writes: start, queue, claim, messages, transfer, end, safeguarding, retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge
from evaluation.models import Exposure, Outcome
from helpline import retention, safeguarding, selectors, services
from helpline.models import ContactRecord, Conversation, Message, SafeguardingFlag
from interventions.links import via_token
from organisations.models import AuditEvent
from tests.helpline.factories import helpline_world

pytestmark = pytest.mark.usefixtures("postgres")


def test_a_conversation_starts_waiting_with_only_hashes_of_its_token_and_resume_code():
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline, caller_type="own_thoughts")
    row = Conversation.objects.get()
    assert row.state == "waiting" and row.caller_type == "own_thoughts"
    assert started.token not in (row.token_hash, row.resume_hash)
    assert len(started.resume_code.split()) == 5
    assert selectors.conversation_for_token(started.token) == row
    assert selectors.conversation_for_resume_code(started.resume_code.upper()) == row
    assert selectors.conversation_for_token(started.token[:-1] + "0") in (None, row)
    assert selectors.conversation_for_token("not-a-token") is None


def test_a_start_from_a_signed_link_is_a_helpline_contact_attributed_to_the_exposure(client):
    w = helpline_world()
    body = w.world.client().post("/api/v1/interventions", {
        "trigger": "search_blocked_term", "country": "GB", "language": "en",
        "session_id": "person-1"}, format="json").json()
    exposure = Exposure.objects.get(pk=body["intervention_id"])
    via = via_token(exposure_id=exposure.pk, resource_id=w.helpline.resource_id)
    services.conversation_start(helpline=w.helpline, via=via)
    outcome = Outcome.objects.get(kind="helpline_contact")
    assert (outcome.exposure, outcome.campaign) == (exposure, w.world.campaign)
    conversation = Conversation.objects.get()
    assert (conversation.heard_via, conversation.campaign) == ("signed_link", w.world.campaign)
    assert conversation.referral_code == w.world.campaign.referral_code


def test_a_via_reference_for_another_resource_or_tampered_is_ignored_not_an_error():
    w = helpline_world()
    import uuid

    other = via_token(exposure_id=uuid.uuid4(), resource_id=w.world.resources["always"].pk)
    services.conversation_start(helpline=w.helpline, via=other)
    services.conversation_start(helpline=w.helpline, via="garbage:abc")
    assert not Outcome.objects.exists()
    assert Conversation.objects.filter(campaign__isnull=True).count() == 2


def test_a_referral_code_attributes_the_contact_to_its_campaign_without_an_exposure():
    w = helpline_world()
    services.conversation_start(helpline=w.helpline,
                                referral_code=w.world.campaign.referral_code.lower())
    outcome = Outcome.objects.get()
    assert (outcome.kind, outcome.exposure, outcome.campaign) == (
        "helpline_contact", None, w.world.campaign)


def test_a_closed_or_unstaffed_helpline_refuses_plainly():
    w = helpline_world(online=False)
    with pytest.raises(services.HelplineUnavailable) as error:
        services.conversation_start(helpline=w.helpline)
    assert error.value.details["reason"] == "no_counsellors"
    w.helpline.resource.opening_hours.all().delete()
    w.online()
    with pytest.raises(services.HelplineUnavailable) as error:
        services.conversation_start(helpline=w.helpline)
    assert error.value.details["reason"] == "closed"


def test_the_queue_limit_counts_people_beyond_the_free_slots():
    w = helpline_world(queue_limit=1, chats_per_counsellor=1)
    services.conversation_start(helpline=w.helpline)  # takes the free slot
    services.conversation_start(helpline=w.helpline)  # first in the queue beyond it
    with pytest.raises(services.HelplineUnavailable) as error:
        services.conversation_start(helpline=w.helpline)
    assert error.value.details["reason"] == "full"


def test_claims_take_the_oldest_first_and_respect_the_counsellors_concurrency():
    w = helpline_world(chats_per_counsellor=1)
    first = services.conversation_start(helpline=w.helpline).conversation
    services.conversation_start(helpline=w.helpline)
    claimed = services.conversation_claim(counsellor=w.counsellor)
    assert claimed.pk == first.pk and claimed.state == "active"
    with pytest.raises(Conflict):
        services.conversation_claim(counsellor=w.counsellor)
    assert AuditEvent.objects.filter(action="helpline.claimed").count() == 1


def test_messages_get_gapless_sequence_numbers_and_are_sealed_at_rest():
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)
    conversation = started.conversation
    services.message_post(conversation=conversation, text="<b>hello</b>", sender="person")
    services.conversation_claim(counsellor=w.counsellor)
    services.message_post(conversation=conversation, text="Hi, I am here.", sender="counsellor",
                          counsellor=w.counsellor)
    rows = list(Message.objects.order_by("sequence"))
    assert [m.sequence for m in rows] == [1, 2, 3]
    assert all("hello" not in m.body and "here" not in m.body for m in rows)
    texts = [m["text"] for m in selectors.messages_after(conversation, after=1)]
    assert texts == ["Sam has joined the chat.", "Hi, I am here."]
    assert selectors.messages_after(conversation)[0]["text"] == "<b>hello</b>"  # text, not HTML


def test_an_oversized_or_empty_message_is_refused_with_a_clear_error():
    w = helpline_world()
    conversation = services.conversation_start(helpline=w.helpline).conversation
    with pytest.raises(PayloadTooLarge) as error:
        services.message_post(conversation=conversation, text="x" * 4001, sender="person")
    assert "4000" in error.value.message
    with pytest.raises(InvalidInput):
        services.message_post(conversation=conversation, text="   ", sender="person")
    services.message_post(conversation=conversation, text="x" * 4000, sender="person")


def test_only_the_conversations_counsellor_writes_and_a_supervisor_can_reassign():
    w = helpline_world()
    w.online(w.counsellor, w.colleague)
    conversation = services.conversation_start(helpline=w.helpline).conversation
    services.conversation_claim(counsellor=w.counsellor)
    with pytest.raises(Forbidden):
        services.message_post(conversation=conversation, text="hi", sender="counsellor",
                              counsellor=w.colleague)
    with pytest.raises(Forbidden):
        services.conversation_transfer(conversation=conversation, by=w.colleague, to=w.colleague)
    services.conversation_transfer(conversation=conversation, by=w.supervisor, to=w.colleague)
    conversation.refresh_from_db()
    assert conversation.counsellor == w.colleague
    services.message_post(conversation=conversation, text="hi", sender="counsellor",
                          counsellor=w.colleague)
    assert AuditEvent.objects.filter(action="helpline.transferred").exists()


def test_ending_writes_a_contact_record_with_categories_and_a_sealed_note():
    w = helpline_world()
    conversation = services.conversation_start(helpline=w.helpline).conversation
    services.conversation_claim(counsellor=w.counsellor)
    record = services.conversation_end(
        conversation=conversation, by=w.counsellor, caller_type="own_thoughts",
        concerns=["own_thoughts", "legal"], offered=["referral"], note="Agreed to call back.")
    conversation.refresh_from_db()
    assert conversation.state == "ended" and conversation.ended_at is not None
    assert record.concerns == ["legal", "own_thoughts"] and "call back" not in record.note
    with pytest.raises(InvalidInput):
        services.conversation_end(conversation=conversation, by=w.counsellor,
                                  caller_type="own_thoughts", concerns=["nonsense"], offered=[])
    with pytest.raises(Conflict):
        services.conversation_end(conversation=conversation, by=w.counsellor,
                                  caller_type="own_thoughts", concerns=[], offered=[])
    with pytest.raises(Conflict):
        services.message_post(conversation=conversation, text="still there?", sender="person")


def test_leaving_the_queue_is_abandoned_and_a_silent_waiting_page_is_abandoned_too():
    w = helpline_world()
    one = services.conversation_start(helpline=w.helpline).conversation
    two = services.conversation_start(helpline=w.helpline).conversation
    services.person_leave(conversation=one)
    later = timezone.now() + timedelta(seconds=services.ABANDON_AFTER_SECONDS + 1)
    assert services.abandon_stale_waiting(at=later) == 1
    assert {c.state for c in Conversation.objects.filter(pk__in=[one.pk, two.pk])} == {
        "abandoned"}


def test_a_safeguarding_flag_not_acknowledged_in_time_is_reraised_with_an_audit_row():
    w = helpline_world(acknowledgement_minutes=10)
    conversation = services.conversation_start(helpline=w.helpline).conversation
    services.conversation_claim(counsellor=w.counsellor)
    flag = safeguarding.flag_raise(conversation=conversation, by=w.counsellor,
                               category="child_at_risk")
    assert safeguarding.flags_reraise_overdue(at=timezone.now() + timedelta(minutes=5)) == 0
    assert safeguarding.flags_reraise_overdue(at=timezone.now() + timedelta(minutes=11)) == 1
    flag.refresh_from_db()
    assert flag.reraised_count == 1
    with pytest.raises(Forbidden):
        safeguarding.flag_acknowledge(flag=flag, by=w.colleague)
    safeguarding.flag_acknowledge(flag=flag, by=w.supervisor)
    assert safeguarding.flags_reraise_overdue(at=timezone.now() + timedelta(days=1)) == 0
    actions = set(AuditEvent.objects.filter(action__startswith="helpline.safeguarding")
                  .values_list("action", flat=True))
    assert actions == {"helpline.safeguarding_raised", "helpline.safeguarding_reraised",
                       "helpline.safeguarding_acknowledged"}
    assert SafeguardingFlag.objects.get().acknowledged_by == w.supervisor


def test_retention_destroys_the_key_deletes_messages_and_keeps_only_categories():
    w = helpline_world(retention_days=30)
    started = services.conversation_start(helpline=w.helpline)
    conversation = started.conversation
    services.message_post(conversation=conversation, text="something private", sender="person")
    services.conversation_claim(counsellor=w.counsellor)
    services.conversation_end(conversation=conversation, by=w.counsellor,
                              caller_type="survivor", concerns=["past_abuse"], offered=[],
                              note="a private note")
    assert retention.conversations_purge_expired(at=timezone.now() + timedelta(days=29)) == 0
    assert retention.conversations_purge_expired(at=timezone.now() + timedelta(days=31)) == 1
    conversation.refresh_from_db()
    assert (conversation.data_key, conversation.token_hash, conversation.resume_hash) == (
        "", None, None)
    assert not Message.objects.exists()
    record = ContactRecord.objects.get()
    assert (record.note, record.concerns, record.caller_type) == ("", ["past_abuse"], "survivor")
    assert selectors.conversation_for_token(started.token) is None
    assert selectors.conversation_for_resume_code(started.resume_code) is None


def test_a_resume_code_gives_a_new_token_and_the_old_one_stops_working():
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)
    token = services.conversation_resume(conversation=started.conversation)
    assert selectors.conversation_for_token(started.token) is None
    assert selectors.conversation_for_token(token) == started.conversation
    later = timezone.now() + timedelta(days=services.RESUME_VALID_DAYS + 1)
    assert selectors.conversation_for_resume_code(started.resume_code, at=later) is None
