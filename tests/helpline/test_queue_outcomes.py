"""What became of a helpline contact: helpline_answered when a counsellor claims the
conversation, helpline_abandoned when it leaves the queue unanswered; each once per
conversation, attributed as its helpline_contact is (the exposure, or the campaign of a
referral code), and shown in the campaign report beside the contacts, disclosed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.disclosure import DisclosurePolicy
from evaluation.models import CampaignDailyOutcome, DailyCell, Exposure, Outcome
from evaluation.reports import campaign_report
from evaluation.rollup import rollup_pending
from helpline import selectors, services
from helpline.models import PacedCampaign
from interventions.links import via_token
from organisations.models import ApiScope
from tests.helpline.factories import helpline_world
from tests.interventions import factories as interventions

pytestmark = pytest.mark.usefixtures("postgres")

QUEUE = ("helpline_answered", "helpline_abandoned")
EXACT = DisclosurePolicy(threshold=1, rounding_base=1)  # every count as it is


def exposed(w, person: str = "person-1") -> tuple[Exposure, str]:  # type: ignore[no-untyped-def]
    """An exposure of the world's campaign and the signed `via` reference to the helpline."""
    body = w.world.client().post("/api/v1/interventions", {
        "trigger": "search_blocked_term", "country": "GB", "language": "en",
        "session_id": person}, format="json").json()
    exposure = Exposure.objects.get(pk=body["intervention_id"])
    return exposure, via_token(exposure_id=exposure.pk, resource_id=w.helpline.resource_id)


def queue_outcomes() -> list[Outcome]:
    return list(Outcome.objects.filter(kind__in=QUEUE).order_by("kind", "pk"))


def test_a_claim_records_one_answered_attributed_to_the_exposure_of_the_contact():
    w = helpline_world()
    exposure, via = exposed(w)
    conversation = services.conversation_start(helpline=w.helpline, via=via).conversation
    assert queue_outcomes() == []  # waiting is neither
    services.conversation_claim(counsellor=w.counsellor)
    contact = Outcome.objects.get(kind="helpline_contact")
    answered = Outcome.objects.get(kind="helpline_answered")
    assert (answered.exposure, answered.campaign, answered.organisation) == (
        exposure, w.world.campaign, w.world.programme)
    assert (answered.exposure_id, answered.campaign_id, answered.reported_by_id) == (
        contact.exposure_id, contact.campaign_id, contact.reported_by_id)
    assert answered.reported_by == w.helpline.organisation
    assert answered.idempotency_key == f"helpline-answered:{conversation.pk}"
    conversation.refresh_from_db()
    assert answered.occurred_at == conversation.answered_at
    assert not Outcome.objects.filter(kind="helpline_abandoned").exists()


def test_a_referral_code_contact_is_answered_for_its_campaign_without_an_exposure():
    w = helpline_world()
    services.conversation_start(helpline=w.helpline, referral_code=w.world.campaign.referral_code)
    services.conversation_claim(counsellor=w.counsellor)
    answered = Outcome.objects.get(kind="helpline_answered")
    assert (answered.exposure, answered.campaign) == (None, w.world.campaign)


def test_leaving_the_queue_quick_exit_and_a_silent_page_are_abandoned():
    w = helpline_world(queue_limit=5)
    code = w.world.campaign.referral_code
    closed = services.conversation_start(helpline=w.helpline, referral_code=code)
    quick = services.conversation_start(helpline=w.helpline, referral_code=code)
    silent = services.conversation_start(helpline=w.helpline, referral_code=code)
    services.person_leave(conversation=closed.conversation)
    # The quick-exit button leaves through the same endpoint as closing the page.
    response = Client().post("/help/conversation/leave", "{}", content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {quick.token}")
    assert response.status_code == 200
    later = timezone.now() + timedelta(seconds=services.ABANDON_AFTER_SECONDS + 1)
    assert services.abandon_stale_waiting(at=later) == 1
    abandoned = Outcome.objects.filter(kind="helpline_abandoned")
    assert sorted(o.idempotency_key for o in abandoned) == sorted(
        f"helpline-abandoned:{s.conversation.pk}" for s in (closed, quick, silent))
    assert {(o.campaign_id, o.exposure_id) for o in abandoned} == {(w.world.campaign.pk, None)}
    assert not Outcome.objects.filter(kind="helpline_answered").exists()


def test_a_person_leaving_an_answered_chat_or_its_end_records_no_abandoned():
    w = helpline_world(queue_limit=5)
    _, via = exposed(w)
    one = services.conversation_start(helpline=w.helpline, via=via).conversation
    two = services.conversation_start(helpline=w.helpline, via=via).conversation
    services.conversation_claim(counsellor=w.counsellor, conversation_id=one.pk)
    services.conversation_claim(counsellor=w.counsellor, conversation_id=two.pk)
    services.person_leave(conversation=one)  # active -> ended
    services.conversation_end(conversation=two, by=w.counsellor, caller_type="other",
                              concerns=[], offered=[])
    later = timezone.now() + timedelta(days=1)
    assert services.abandon_stale_waiting(at=later) == 0
    assert [o.kind for o in queue_outcomes()] == ["helpline_answered", "helpline_answered"]


def test_replays_count_once():
    w = helpline_world(queue_limit=5)
    _, via = exposed(w)
    answered = services.conversation_start(helpline=w.helpline, via=via).conversation
    left = services.conversation_start(helpline=w.helpline, via=via).conversation
    services.conversation_claim(counsellor=w.counsellor, conversation_id=answered.pk)
    assert services.conversation_claim(counsellor=w.counsellor,
                                       conversation_id=answered.pk) is None  # not waiting
    for _ in range(2):
        services.person_leave(conversation=left)  # a second close of the page, a beacon retry
    later = timezone.now() + timedelta(days=1)
    services.abandon_stale_waiting(at=later)
    # A retried write (e.g. a worker re-running it) is ignored by the idempotency key.
    for conversation, kind in ((answered, "helpline_answered"), (left, "helpline_abandoned")):
        services._queue_outcome_record(conversation=conversation, kind=kind,
                                       at=timezone.now())
    assert [o.kind for o in queue_outcomes()] == ["helpline_abandoned", "helpline_answered"]


def test_a_conversation_nobody_is_attributed_to_records_no_outcome():
    w = helpline_world(queue_limit=5)
    one = services.conversation_start(helpline=w.helpline).conversation
    services.conversation_start(helpline=w.helpline, referral_code="NOT-A-CODE")
    services.conversation_claim(counsellor=w.counsellor, conversation_id=one.pk)
    services.abandon_stale_waiting(at=timezone.now() + timedelta(days=1))
    assert not Outcome.objects.exists()


def test_the_outcomes_hold_no_token_resume_code_or_message():
    w = helpline_world()
    _, via = exposed(w)
    started = services.conversation_start(helpline=w.helpline, via=via)
    services.message_post(conversation=started.conversation, text="a private question",
                          sender="person")
    services.conversation_claim(counsellor=w.counsellor)
    for row in Outcome.objects.values():
        text = json.dumps(row, default=str)
        assert started.token not in text and started.resume_code not in text
        assert "private question" not in text and "person-1" not in text


def test_the_rollup_counts_them_in_the_exposures_cell_or_the_campaigns_day():
    w = helpline_world(queue_limit=5)
    _, via = exposed(w)
    linked = services.conversation_start(helpline=w.helpline, via=via).conversation
    services.conversation_start(helpline=w.helpline, via=via)
    code = services.conversation_start(helpline=w.helpline,
                                       referral_code=w.world.campaign.referral_code)
    services.conversation_claim(counsellor=w.counsellor, conversation_id=linked.pk)
    services.person_leave(conversation=code.conversation)
    services.abandon_stale_waiting(at=timezone.now() + timedelta(days=1))
    rollup_pending()
    cell = DailyCell.objects.get(campaign=w.world.campaign)
    assert (cell.exposures, cell.helpline_contact, cell.helpline_answered,
            cell.helpline_abandoned) == (1, 2, 1, 1)
    population = {row.kind: row.count for row in
                  CampaignDailyOutcome.objects.filter(campaign=w.world.campaign)}
    assert population == {"helpline_contact": 1, "helpline_abandoned": 1}


# --- the campaign report ------------------------------------------------------------------------


def test_a_campaign_signposting_the_hosted_helpline_is_known_from_configuration_only():
    w = helpline_world()
    assert selectors.campaign_signposts_helpline(w.world.campaign)
    germany, *_ = interventions.campaign_for(w.world.programme, w.world.partner, name="DE",
                                             countries=["DE"])  # the chat serves GB and IE
    assert not selectors.campaign_signposts_helpline(germany)
    other = interventions.world()  # another programme: its directory has no hosted chat
    assert not selectors.campaign_signposts_helpline(other.campaign)
    PacedCampaign.objects.create(helpline=w.helpline, campaign=germany)
    assert selectors.campaign_signposts_helpline(germany)


def test_the_report_shows_answered_and_abandoned_beside_the_contacts():
    w = helpline_world(queue_limit=5)
    exposure, via = exposed(w)
    started = [services.conversation_start(helpline=w.helpline, via=via).conversation
               for _ in range(3)]
    services.conversation_claim(counsellor=w.counsellor, conversation_id=started[0].pk)
    services.person_leave(conversation=started[1])  # the third is still waiting
    rollup_pending()
    report = campaign_report(campaign=w.world.campaign, policy=EXACT, with_population=False)
    assert set(QUEUE) <= set(report.outcome_kinds)
    stages = {s.label: s for s in report.funnel[exposure.arm.name]}
    assert [s.label for s in report.funnel[exposure.arm.name]] == [
        "exposures", "info_requested", "help_click", "helpline_contact", *QUEUE]
    assert stages["helpline_contact"].count.value == 3
    assert (stages["helpline_answered"].count.value, stages["helpline_answered"].of,
            stages["helpline_answered"].conversion) == (1, "helpline_contact", pytest.approx(1 / 3))
    assert (stages["helpline_abandoned"].count.value,
            stages["helpline_abandoned"].conversion) == (1, pytest.approx(1 / 3))
    arm = next(a for a in report.arms if a.arm_id == exposure.arm_id)
    assert arm.outcomes["helpline_answered"].value == 1


def test_the_report_api_suppresses_the_small_counts_and_another_organisation_gets_404():
    w = helpline_world()
    _, via = exposed(w)
    services.conversation_start(helpline=w.helpline, via=via)
    services.conversation_claim(counsellor=w.counsellor)
    rollup_pending()
    url = f"/api/v1/campaigns/{w.world.campaign.pk}/report"
    reader = w.world.client(interventions.partner_key(w.world.programme, ApiScope.REPORTS_READ))
    body = reader.get(url).json()
    arm = next(a for a in body["arms"] if a["name"] == w.world.variant.name)
    assert arm["outcomes"]["helpline_answered"] == {"value": None, "display": "<10",
                                                   "suppressed": True}
    assert arm["outcomes"]["helpline_abandoned"]["value"] == 0
    stages = {s["label"]: s for s in body["funnel"][w.world.variant.name]}
    assert stages["helpline_answered"]["count"]["suppressed"]
    assert stages["helpline_answered"]["conversion"] is None
    csv = reader.get(f"{url}.csv").content.decode()
    assert "helpline_answered" in csv
    other = interventions.world()
    outsider = other.client(interventions.partner_key(other.programme, ApiScope.REPORTS_READ))
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"{url}.csv").status_code == 404
    # The helpline organisation recorded them, but is no reader of the campaign's report.
    helpline_key = interventions.partner_key(w.helpline.organisation, ApiScope.REPORTS_READ)
    assert w.world.client(helpline_key).get(url).status_code == 404
