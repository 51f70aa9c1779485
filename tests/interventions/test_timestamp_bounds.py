"""Every accepted timestamp is bounded; a stored out-of-range row cannot break a report."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign
from evaluation.models import CampaignDailyOutcome, Outcome
from evaluation.rollup import roll_up
from organisations.models import ApiScope, Partnership
from tests.factories import ApiKeyFactory
from tests.interventions import factories

BOMB = "0001-01-01T00:00:00+05:00"  # stored by PostgreSQL as 1 BC


@pytest.fixture
def shown(postgres):  # type: ignore[no-untyped-def]
    w = factories.world()
    body = w.client().post("/api/v1/interventions", {
        "trigger": "search_blocked_term", "country": "GB", "language": "en",
        "session_id": "person-1"}, format="json").json()
    return w, body["intervention_id"]


@pytest.fixture
def helpline(shown):  # type: ignore[no-untyped-def]
    w, _ = shown
    org = factories.OrganisationFactory(name="A Helpline", kind="helpline")
    Partnership.objects.create(programme=w.programme, partner=org, triggers=[])
    return factories.partner_key(org, ApiScope.OUTCOMES_WRITE)


def by_code(w, occurred_at: str, key: str = "call-1"):  # type: ignore[no-untyped-def]
    return {"kind": "helpline_contact", "idempotency_key": key,
            "referral_code": w.campaign.referral_code, "occurred_at": occurred_at}


def ago(**delta: float) -> str:
    return (timezone.now() - timedelta(**delta)).isoformat()


def test_an_outcome_dated_year_one_is_refused_naming_the_field(shown, helpline):
    w, _ = shown
    response = w.client(helpline).post("/api/v1/outcomes", by_code(w, BOMB), format="json")
    assert response.status_code == 400
    assert "occurred_at" in response.json()
    assert not Outcome.objects.exists()


def test_an_outcome_far_in_the_future_is_refused(shown, helpline):
    w, _ = shown
    response = w.client(helpline).post("/api/v1/outcomes",
                                       by_code(w, "9999-12-31T23:00:00-05:00"), format="json")
    assert response.status_code == 400
    assert "future" in response.json()["occurred_at"][0]


def test_an_outcome_before_its_campaign_existed_is_refused(shown, helpline):
    w, _ = shown
    response = w.client(helpline).post("/api/v1/outcomes", by_code(w, ago(days=3)),
                                       format="json")
    assert response.status_code == 400
    assert "existed" in response.json()["occurred_at"][0]


def test_an_outcome_within_the_tolerance_before_its_exposure_is_accepted(shown):
    w, intervention_id = shown
    response = w.client().post("/api/v1/outcomes", {
        "kind": "chatbot_engaged", "idempotency_key": "evt-1",
        "intervention_id": intervention_id, "occurred_at": ago(hours=2)}, format="json")
    assert response.status_code == 201, response.content
    early = w.client().post("/api/v1/outcomes", {
        "kind": "chatbot_engaged", "idempotency_key": "evt-2",
        "intervention_id": intervention_id, "occurred_at": ago(days=2)}, format="json")
    assert early.status_code == 400
    assert "occurred_at" in early.json()


def test_batch_lines_with_impossible_times_are_rejected_by_line_and_the_rest_kept(
        shown, helpline):
    w, _ = shown
    lines = [by_code(w, ago(minutes=5), "ok-1"), by_code(w, BOMB, "bad-1"),
             by_code(w, ago(days=30), "bad-2"), by_code(w, ago(minutes=1), "ok-2")]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    response = w.client(helpline).generic("POST", "/api/v1/outcomes/batch", body,
                                          content_type="application/x-ndjson")
    assert response.status_code == 200
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (2, 2)
    assert [(e["line"], list(e["errors"])) for e in report["errors"]] == [
        (2, ["occurred_at"]), (3, ["occurred_at"])]


def test_a_daily_aggregate_of_year_one_is_refused_naming_the_day(shown, helpline):
    w, _ = shown
    response = w.client(helpline).post("/api/v1/outcomes/aggregates", {"rows": [
        {"day": "0001-01-01", "kind": "helpline_contact", "referral_source": "unknown",
         "count": 3}]}, format="json")
    assert response.status_code == 400
    assert "day" in str(response.json()["rows"]), response.json()


def test_a_daily_aggregate_for_a_campaign_before_it_existed_is_refused(shown, helpline):
    w, _ = shown
    day = (timezone.now() - timedelta(days=10)).date().isoformat()
    response = w.client(helpline).post("/api/v1/outcomes/aggregates", {"rows": [
        {"day": day, "kind": "helpline_contact", "referral_source": w.campaign.referral_code,
         "count": 3}]}, format="json")
    assert response.status_code == 400
    assert "day" in str(response.json()["rows"]), response.json()


def _store_bomb(w, key: str = "r:old") -> None:  # type: ignore[no-untyped-def]
    """A row written before timestamps were checked (the API now refuses it)."""
    outcome = Outcome.objects.create(
        organisation=w.programme, reported_by=w.partner, campaign=w.campaign,
        kind="helpline_contact", idempotency_key=key)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE evaluation_outcome SET occurred_at = %s WHERE id = %s",
                       [BOMB, outcome.pk])


def _report(w, suffix: str = ""):  # type: ignore[no-untyped-def]
    _, secret = ApiKeyFactory.create_with_secret(organisation=w.programme,
                                                 scopes=[ApiScope.REPORTS_READ])
    return w.client(secret).get(f"/api/v1/campaigns/{w.campaign.pk}/report{suffix}")


def test_a_stored_row_dated_year_one_is_skipped_and_counted_by_the_rollup(shown):
    w, _ = shown
    Campaign.objects.filter(pk=w.campaign.pk).update(status="running")
    _store_bomb(w)
    result = roll_up()
    assert (result.outcomes, result.outcomes_skipped) == (1, 1)
    assert not CampaignDailyOutcome.objects.exists()
    for suffix in ("", ".csv", "?format=csv"):
        response = _report(w, suffix)
        assert response.status_code == 200, (suffix, response.content[:200])
    notes = _report(w).json()["notes"]
    assert any("left out of every count" in note for note in notes)


def test_a_cell_already_rolled_up_with_an_impossible_day_cannot_break_the_report(shown):
    w, _ = shown
    with connection.cursor() as cursor:  # what the rollup wrote before it skipped such rows
        cursor.execute(
            "INSERT INTO evaluation_campaigndailyoutcome (campaign_id, kind, day, count, "
            "updated_at) VALUES (%s, 'helpline_contact', '0001-12-31 BC', 1, now())",
            [w.campaign.pk])
    assert _report(w).status_code == 200
    assert _report(w, ".csv").status_code == 200


def test_a_flight_starting_in_year_one_is_refused_naming_the_field(tenant):
    from tests.campaigns.factories import build_campaign

    built = build_campaign(tenant)
    response = tenant.client().post(f"/api/v1/campaigns/{built.campaign.pk}/flights/",
                                    {"starts_at": "0001-01-02T00:00:00Z"}, format="json")
    assert response.status_code == 400
    assert "starts_at" in response.json()
