"""Outcome reports: single events, NDJSON batches and helpline daily aggregates."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from evaluation.idempotency import reported_keys
from evaluation.models import Outcome
from interventions.models import DailyAggregate
from organisations.models import ApiScope, AuditEvent, Partnership
from tests.interventions import factories

URL = "/api/v1/outcomes"
BATCH = "/api/v1/outcomes/batch"
AGGREGATES = "/api/v1/outcomes/aggregates"


@pytest.fixture
def shown(db):  # type: ignore[no-untyped-def]
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
    return org, factories.partner_key(org, ApiScope.OUTCOMES_WRITE)


def post(w, data, secret=None):  # type: ignore[no-untyped-def]
    return w.client(secret).post(URL, data, format="json")


def ndjson(w, lines, secret=None):  # type: ignore[no-untyped-def]
    body = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    return w.client(secret).generic("POST", BATCH, body + "\n",
                                    content_type="application/x-ndjson")


def test_a_partner_reports_an_outcome_of_its_intervention(shown):
    w, intervention_id = shown
    response = post(w, {"kind": "chatbot_engaged", "idempotency_key": "evt-1",
                        "intervention_id": intervention_id})
    assert response.status_code == 201
    assert response.json()["duplicate"] is False
    outcome = Outcome.objects.get()
    assert str(outcome.exposure_id) == intervention_id
    assert (outcome.kind, outcome.campaign, outcome.organisation, outcome.reported_by) == (
        "chatbot_engaged", w.campaign, w.programme, w.partner)


def test_a_replayed_idempotency_key_counts_once(shown):
    w, intervention_id = shown
    event = {"kind": "search_abandoned", "idempotency_key": "evt-1",
             "intervention_id": intervention_id}
    first = post(w, event)
    again = post(w, {**event, "kind": "info_requested"})
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    assert Outcome.objects.get().kind == "search_abandoned"


def test_a_helpline_reports_a_contact_by_referral_code(shown, helpline):
    w, _ = shown
    org, secret = helpline
    response = post(w, {"kind": "helpline_contact", "idempotency_key": "call-17",
                        "referral_code": w.campaign.referral_code.lower(),
                        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat()},
                secret)
    assert response.status_code == 201
    outcome = Outcome.objects.get()
    assert outcome.exposure is None and outcome.campaign == w.campaign
    assert outcome.reported_by == org and outcome.organisation == w.programme


def test_another_organisations_intervention_id_looks_unknown(shown):
    _w, intervention_id = shown
    other = factories.world()
    foreign = post(other, {"kind": "help_click", "idempotency_key": "k",
                           "intervention_id": intervention_id})
    unknown = post(other, {"kind": "help_click", "idempotency_key": "k",
                           "intervention_id": str(uuid.uuid4())})
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json() == unknown.json() == {"intervention_id": ["Unknown intervention id."]}
    assert not Outcome.objects.exists()


def test_a_referral_code_of_a_programme_we_do_not_work_with_looks_unknown(shown):
    w, _ = shown
    other = factories.world()
    response = post(other, {"kind": "helpline_contact", "idempotency_key": "k",
                            "referral_code": w.campaign.referral_code})
    assert response.status_code == 400
    assert response.json() == {"referral_code": ["Unknown referral code."]}


@pytest.mark.parametrize(("event", "field"), [
    ({"kind": "opt_out", "idempotency_key": "k"}, "kind"),
    ({"kind": "help_click"}, "idempotency_key"),
    ({"kind": "help_click", "idempotency_key": "k", "intervention_id": "nope"},
     "intervention_id"),
    ({"kind": "help_click", "idempotency_key": "k"}, "non_field_errors"),
    ({"kind": "help_click", "idempotency_key": "k", "referral_code": "ABC",
      "intervention_id": str(uuid.uuid4())}, "non_field_errors"),
    ({"kind": "help_click", "idempotency_key": "k", "referral_code": "ABC",
      "occurred_at": "yesterday"}, "occurred_at"),
    ({"kind": "help_click", "idempotency_key": "k", "referral_code": "ABC",
      "occurred_at": "2999-01-01T00:00:00+00:00"}, "occurred_at"),
    ({"kind": "help_click", "idempotency_key": "k", "referral_code": "ABC", "extra": 1},
     "non_field_errors"),
])
def test_bad_events_are_refused_naming_the_field(shown, event, field):
    w, _ = shown
    response = post(w, event)
    assert response.status_code == 400
    assert field in response.json()


def test_a_json_array_is_not_an_event(shown):
    w, _ = shown
    assert post(w, [1, 2]).status_code == 400


def test_outcomes_need_a_key_with_the_outcomes_scope(shown, anonymous_client):
    w, intervention_id = shown
    event = {"kind": "help_click", "idempotency_key": "k", "intervention_id": intervention_id}
    assert anonymous_client.post(URL, event, format="json").status_code == 401
    secret = factories.partner_key(w.partner, ApiScope.INTERVENTIONS_WRITE)
    assert post(w, event, secret).status_code == 403
    assert ndjson(w, [event], secret).status_code == 403
    assert w.client(secret).post(AGGREGATES, {"rows": []}, format="json").status_code == 403


def test_a_batch_keeps_valid_lines_and_reports_bad_ones_by_line_number(shown):
    w, intervention_id = shown
    post(w, {"kind": "help_click", "idempotency_key": "old", "intervention_id": intervention_id})
    lines = [
        {"kind": "search_abandoned", "idempotency_key": "a", "intervention_id": intervention_id},
        "{not json",
        {"kind": "bogus", "idempotency_key": "b", "intervention_id": intervention_id},
        {"kind": "repeat_trigger", "idempotency_key": "a", "intervention_id": intervention_id},
        {"kind": "help_click", "idempotency_key": "old", "intervention_id": intervention_id},
        "",
        {"kind": "help_click", "idempotency_key": "c", "intervention_id": str(uuid.uuid4())},
        {"kind": "info_requested", "idempotency_key": "d",
         "referral_code": w.campaign.referral_code},
    ]
    response = ndjson(w, lines)
    assert response.status_code == 200
    report = response.json()
    assert (report["received"], report["accepted"], report["duplicates"], report["rejected"]) \
        == (7, 2, 2, 3)
    assert [e["line"] for e in report["errors"]] == [2, 3, 7]
    assert "kind" in report["errors"][1]["errors"]
    assert report["errors"][2]["errors"] == {"intervention_id": ["Unknown intervention id."]}
    assert Outcome.objects.count() == 3
    assert AuditEvent.objects.filter(action="outcomes.batch").exists()
    replay = ndjson(w, lines).json()
    assert (replay["accepted"], replay["duplicates"]) == (0, 4)
    assert Outcome.objects.count() == 3


def test_a_batch_reads_each_line_as_json_would(shown):
    w, intervention_id = shown
    event = json.dumps({"kind": "help_click", "intervention_id": intervention_id,
                        "idempotency_key": "KEY"})
    lines = [
        "\ufeff" + event.replace("KEY", "bom"),  # a UTF-8 byte order mark on the first line
        "  " + event.replace("KEY", "indented"),
        event.replace("KEY", "crlf") + "\r",
        event.replace("KEY", "extra") + " {}",
        "[1]",
        "\u00a0",  # not blank: only ASCII white space makes a blank line
        " \t",
        '{"kind": "help_click", "kind": "bogus", "idempotency_key": "k", "referral_code": "A"}',
    ]
    report = ndjson(w, lines).json()
    assert (report["received"], report["accepted"], report["rejected"]) == (7, 3, 4)
    assert [(e["line"], list(e["errors"])) for e in report["errors"]] == [
        (4, ["non_field_errors"]), (5, ["non_field_errors"]), (6, ["non_field_errors"]),
        (8, ["kind"])]
    assert report["errors"][1]["errors"] == {
        "non_field_errors": ["Each event must be a JSON object."]}
    assert sorted(Outcome.objects.values_list("idempotency_key", flat=True)) == sorted(
        reported_keys(w.partner.pk, ["bom", "crlf", "indented"]))


def test_a_batch_over_ten_thousand_events_is_refused_whole(shown):
    w, intervention_id = shown
    line = {"kind": "help_click", "intervention_id": intervention_id}
    lines = [{**line, "idempotency_key": f"k{i}"} for i in range(10_001)]
    response = ndjson(w, lines)
    assert response.status_code == 413
    assert not Outcome.objects.exists()


def test_a_batch_of_exactly_ten_thousand_events_is_accepted(shown):
    w, intervention_id = shown
    line = {"kind": "help_click", "intervention_id": intervention_id}
    report = ndjson(w, [{**line, "idempotency_key": f"k{i}"} for i in range(10_000)]).json()
    assert report["accepted"] == 10_000
    assert Outcome.objects.count() == 10_000


def test_a_batch_needs_the_ndjson_content_type(shown):
    w, _ = shown
    response = w.client().post(BATCH, {"kind": "help_click"}, format="json")
    assert response.status_code == 415


def test_a_batch_that_is_not_utf8_is_reported_by_line(shown):
    w, _ = shown
    response = w.client().generic("POST", BATCH, b"\xff\xfe\n",
                                  content_type="application/x-ndjson")
    assert response.status_code == 200
    assert response.json()["errors"][0]["line"] == 1


def test_a_helpline_uploads_daily_counts_and_a_resent_day_replaces_them(shown, helpline):
    w, _ = shown
    _org, secret = helpline
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()  # campaign existed
    rows = [{"day": yesterday, "kind": "helpline_contact",
             "referral_source": w.campaign.referral_code, "count": 4},
            {"day": yesterday, "kind": "helpline_contact", "referral_source": "unknown",
             "count": 31}]
    first = w.client(secret).post(AGGREGATES, {"rows": rows}, format="json")
    assert first.status_code == 200
    assert first.json() == {"received": 2, "created": 2, "updated": 0, "linked_to_campaigns": 1}
    rows[0]["count"] = 5
    again = w.client(secret).post(AGGREGATES, {"rows": rows}, format="json").json()
    assert (again["created"], again["updated"]) == (0, 2)
    linked = DailyAggregate.objects.get(referral_source=w.campaign.referral_code)
    assert (linked.count, linked.campaign, linked.organisation) == (5, w.campaign, w.programme)
    label = DailyAggregate.objects.get(referral_source="unknown")
    assert label.campaign is None and label.organisation == w.programme
    assert DailyAggregate.objects.count() == 2


@pytest.mark.parametrize("row", [
    {"day": "2999-01-01", "kind": "helpline_contact", "referral_source": "x", "count": 1},
    {"day": "2026-11-20", "kind": "opt_out", "referral_source": "x", "count": 1},
    {"day": "2026-11-20", "kind": "helpline_contact", "referral_source": "x", "count": -1},
    {"day": "not-a-day", "kind": "helpline_contact", "referral_source": "x", "count": 1},
])
def test_bad_aggregate_rows_are_refused(shown, helpline, row):
    w, _ = shown
    _, secret = helpline
    response = w.client(secret).post(AGGREGATES, {"rows": [row]}, format="json")
    assert response.status_code == 400
    assert "rows" in response.json()
    assert not DailyAggregate.objects.exists()


@pytest.mark.parametrize("event", [
    {"kind": {}, "idempotency_key": "k", "referral_code": "ABC"},
    {"kind": ["help_click"], "idempotency_key": "k", "referral_code": "ABC"},
    {"kind": "help_click", "idempotency_key": 5, "referral_code": "ABC"},
    {"kind": "help_click", "idempotency_key": "k", "referral_code": "ABC",
     "intervention_id": None},
    {"kind": "help_click", "idempotency_key": "k", "referral_code": 12},
])
def test_wrongly_typed_events_are_a_400_never_a_500(shown, event):
    w, _ = shown
    assert post(w, event).status_code == 400


@pytest.mark.parametrize("row", [
    {"day": "2026-11-20", "kind": "helpline_contact", "referral_source": 5, "count": 1},
    {"day": "2026-11-20", "kind": "helpline_contact", "referral_source": "x", "count": "1"},
    {"day": "2026-11-20", "kind": "helpline_contact", "referral_source": "x", "count": True},
])
def test_aggregate_fields_must_have_their_documented_types(shown, helpline, row):
    w, _ = shown
    _, secret = helpline
    assert w.client(secret).post(AGGREGATES, {"rows": [row]}, format="json").status_code == 400


@pytest.mark.parametrize("kind", ["helpline_answered", "helpline_abandoned"])
def test_the_helpline_queue_kinds_are_recorded_by_the_system_never_reported(shown, helpline,
                                                                            kind):
    """What became of a contact is known only to the helpline hosted here (helpline.services):
    a partner or an outside helpline cannot report it, singly, in a batch or as a daily total
    (one reported answer would count beside the recorded ones)."""
    w, intervention_id = shown
    _, secret = helpline
    single = post(w, {"kind": kind, "idempotency_key": "k", "intervention_id": intervention_id})
    assert single.status_code == 400 and "kind" in single.json()
    by_code = post(w, {"kind": kind, "idempotency_key": "k2",
                       "referral_code": w.campaign.referral_code}, secret)
    assert by_code.status_code == 400 and "kind" in by_code.json()
    batch = ndjson(w, [{"kind": kind, "idempotency_key": "k3",
                        "intervention_id": intervention_id}]).json()
    assert (batch["accepted"], batch["rejected"]) == (0, 1)
    assert "kind" in batch["errors"][0]["errors"]
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    rows = [{"day": yesterday, "kind": kind, "referral_source": w.campaign.referral_code,
             "count": 3}]
    assert w.client(secret).post(AGGREGATES, {"rows": rows}, format="json").status_code == 400
    assert not Outcome.objects.exists() and not DailyAggregate.objects.exists()


def test_the_schema_lists_the_queue_kinds_for_plans_but_not_for_reports():
    enums = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert {"helpline_answered", "helpline_abandoned"} <= set(enums["OutcomeKindEnum"]["enum"])
    assert not {"helpline_answered", "helpline_abandoned"} & set(
        enums["ReportedOutcomeKindEnum"]["enum"])
