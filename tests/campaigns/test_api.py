"""The campaigns API: building a campaign, transitions, tenancy, partners read-only, previews."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign
from organisations.services import Actor, partnership_set
from tests.campaigns.factories import approve
from tests.directory.factories import HelpResourceFactory, LegalNoticeFactory, StatuteFactory
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


def session(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def later(**delta: int) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def test_a_manager_builds_a_campaign_with_two_variants_and_a_holdout_over_the_api(tenant) -> None:
    HelpResourceFactory(organisation=tenant.organisation, confirmed_at=timezone.now())
    api = tenant.client()
    campaign = api.post("/api/v1/campaigns/", {
        "name": "UK signposting", "channels": ["email"], "countries": ["gb"],
        "languages": ["en"]}, format="json")
    assert campaign.status_code == 201, campaign.content
    assert campaign.json()["countries"] == ["GB"]
    cid = campaign.json()["id"]
    ids = []
    for framing in ("legal_deterrence", "help_therapeutic"):
        message = api.post("/api/v1/messages/", {
            "name": framing, "channel": "email", "language": "en", "framing": framing,
            "subject": "Confidential help", "body": "Help: {{ help_link }}"}, format="json")
        assert message.status_code == 201, message.content
        ids.append(message.json()["id"])
    for name, weight, messages in (("a", "45", [ids[0]]), ("b", "45", [ids[1]])):
        arm = api.post(f"/api/v1/campaigns/{cid}/arms/",
                       {"name": name, "weight": weight, "messages": messages}, format="json")
        assert arm.status_code == 201, arm.content
    holdout = api.post(f"/api/v1/campaigns/{cid}/arms/",
                       {"name": "holdout", "kind": "holdout", "weight": "10"}, format="json")
    assert holdout.json()["share"] == 0.1
    assert api.post(f"/api/v1/campaigns/{cid}/flights/",
                    {"starts_at": later(hours=-1), "ends_at": later(days=10)},
                    format="json").status_code == 201
    schedule = api.post(f"/api/v1/campaigns/{cid}/schedules/",
                        {"kind": "one_off", "channel": "email", "send_at": later(days=1)},
                        format="json")
    assert schedule.status_code == 201, schedule.content
    assert api.get(f"/api/v1/campaigns/{cid}/launch-problems").json()["problems"] == []
    submitted = session(tenant.manager).post(f"/api/v1/campaigns/{cid}/submit")
    assert submitted.json()["status"] == "in_review"
    own = session(tenant.manager).post(f"/api/v1/campaigns/{cid}/approve")
    assert own.status_code == 403
    assert "four eyes" in own.json()["detail"]
    approved = session(tenant.reviewer).post(f"/api/v1/campaigns/{cid}/approve")
    assert approved.json()["status"] == "approved", approved.content
    scheduled = api.post(f"/api/v1/campaigns/{cid}/schedule")
    assert scheduled.json()["status"] == "scheduled"
    schedules = api.get(f"/api/v1/campaigns/{cid}/schedules/").json()["results"]
    assert schedules[0]["next_fire_at"] is not None


def test_an_out_of_order_transition_is_a_409_naming_the_current_state(built, tenant) -> None:
    response = tenant.client().post(f"/api/v1/campaigns/{built.campaign.pk}/pause")
    assert response.status_code == 409
    assert response.json() == {"detail": "cannot pause a campaign that is draft",
                               "current_state": "draft"}


def test_scheduling_is_refused_with_the_launch_gate_problems(built, tenant) -> None:
    campaign = approve(built, tenant)
    built.resource.confirmed_at = timezone.now() - timedelta(days=1000)
    built.resource.save()
    response = tenant.client().post(f"/api/v1/campaigns/{campaign.pk}/schedule")
    assert response.status_code == 400
    assert any("is stale" in problem for problem in response.json()["problems"])


def test_bad_input_is_a_field_level_400(built, tenant) -> None:
    api = tenant.client()
    cid = built.campaign.pk
    cases = [
        ("/api/v1/campaigns/", {"name": "x", "channels": ["fax"]}, "channels"),
        (f"/api/v1/campaigns/{cid}/arms/", {"name": "neg", "weight": "-1"}, "weight"),
        (f"/api/v1/campaigns/{cid}/schedules/",
         {"kind": "one_off", "channel": "email", "send_at": later(days=-1)}, "send_at"),
        (f"/api/v1/campaigns/{cid}/schedules/",
         {"kind": "relative", "channel": "email", "relative_attribute": "release_date",
          "time_of_day": "10:00", "window_start": "09:00", "window_end": "09:00"},
         "window_end"),
        ("/api/v1/messages/", {"name": "m", "channel": "sms", "language": "en",
                               "framing": "neutral_control", "body": "{{ first_name }}"},
         "body"),
        (f"/api/v1/campaigns/{cid}/arms/", {"name": "x", "messages": [999999]}, "messages"),
    ]
    for path, body, field in cases:
        response = api.post(path, body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert field in response.json(), (path, response.json())


def test_the_other_organisations_key_gets_404_on_our_objects(built, other_tenant) -> None:
    api = other_tenant.client()
    cid = built.campaign.pk
    arm = built.campaign.arms.first().pk
    message = built.campaign.arms.first().messages.first().pk
    for method, path in [
        ("get", f"/api/v1/campaigns/{cid}/"), ("patch", f"/api/v1/campaigns/{cid}/"),
        ("post", f"/api/v1/campaigns/{cid}/submit"),
        ("get", f"/api/v1/campaigns/{cid}/arms/"),
        ("get", f"/api/v1/campaigns/{cid}/arms/{arm}/"),
        ("get", f"/api/v1/campaigns/{cid}/schedules/"),
        ("get", f"/api/v1/messages/{message}/"),
        ("post", f"/api/v1/messages/{message}/preview"),
    ]:
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    assert api.get("/api/v1/campaigns/").json()["results"] == []


def test_anonymous_callers_get_401_and_keys_without_the_scope_403(built, tenant,
                                                                  anonymous_client) -> None:
    cid = built.campaign.pk
    assert anonymous_client.get("/api/v1/campaigns/").status_code == 401
    assert anonymous_client.post(f"/api/v1/campaigns/{cid}/submit").status_code == 401
    reader = tenant.client(tenant.key_with("campaigns:read"))
    assert reader.get(f"/api/v1/campaigns/{cid}/").status_code == 200
    assert reader.post(f"/api/v1/campaigns/{cid}/submit").status_code == 403
    assert reader.post("/api/v1/messages/", {}, format="json").status_code == 403
    nobody = tenant.client(tenant.key_with("segments:read"))
    assert nobody.get("/api/v1/campaigns/").status_code == 403


def test_a_partner_reads_enrolled_campaigns_and_cannot_change_them(built, tenant,
                                                                   make_key) -> None:
    platform = OrganisationFactory(name="Search platform", kind="partner_platform")
    partnership_set(programme=tenant.organisation, partner=platform, triggers=[],
                    actor=Actor.system())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + make_key(platform, "campaigns:read",
                                                            "campaigns:write"))
    cid = built.campaign.pk
    assert api.get(f"/api/v1/campaigns/{cid}/").status_code == 404
    built.campaign.partners.add(platform)
    assert api.get(f"/api/v1/campaigns/{cid}/").json()["partners"] == [platform.slug]
    assert [c["id"] for c in api.get("/api/v1/campaigns/").json()["results"]] == [cid]
    assert api.get(f"/api/v1/campaigns/{cid}/arms/").status_code == 200
    assert api.patch(f"/api/v1/campaigns/{cid}/", {"name": "x"},
                     format="json").status_code == 403
    assert api.post(f"/api/v1/campaigns/{cid}/cancel").status_code == 403
    assert api.post("/api/v1/campaigns/", {"name": "mine"}, format="json").status_code == 403


def test_ids_that_are_not_numbers_are_404s(tenant) -> None:
    api = tenant.client()
    assert api.get("/api/v1/campaigns/abc/").status_code == 404
    assert api.get(f"/api/v1/campaigns/{2**40}/").status_code == 404


def test_editing_an_approved_campaign_over_the_api_returns_it_to_draft(built, tenant) -> None:
    campaign = approve(built, tenant)
    response = tenant.client().patch(f"/api/v1/campaigns/{campaign.pk}/",
                                     {"objective": "Changed"}, format="json")
    assert response.json()["status"] == "draft"


def test_a_message_preview_uses_the_directory_for_the_country(built, tenant) -> None:
    notice = LegalNoticeFactory(organisation=tenant.organisation, jurisdiction="GB-ENG")
    StatuteFactory(notice=notice, name="Protection of Children Act 1978", section="s.1")
    message = built.campaign.arms.get(name="legal").messages.get()
    message.body = ("<p>{% for s in legal_notice.statutes %}{{ s.name }}{% endfor %}</p>"
                    '<p><a href="{{ help_link }}">{{ help_resources.0.name }}</a></p>')
    message.save()
    response = tenant.client().post(f"/api/v1/messages/{message.pk}/preview",
                                    {"country": "GB", "stage": "at_risk"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text"] == ("Protection of Children Act 1978\n"
                            "Stop It Now helpline (https://help.example.org/)")
    assert body["sms_segments"] == 1


def test_a_message_preview_accepts_a_sample_context_and_escapes_it(built, tenant) -> None:
    message = built.campaign.arms.get(name="help").messages.get()
    response = tenant.client().post(f"/api/v1/messages/{message.pk}/preview", {
        "context": {"help_link": "https://example.org/go/x",
                    "organisation_name": "<b>Org</b>"}}, format="json")
    assert response.status_code == 200, response.content
    assert "https://example.org/go/x" in response.json()["html"]


def test_the_campaign_list_is_a_constant_number_of_queries(tenant, django_assert_max_num_queries
                                                           ) -> None:
    from tests.campaigns.factories import build_campaign

    for index in range(4):
        build_campaign(tenant, name=f"C{index}")
    with django_assert_max_num_queries(12):
        response = tenant.client().get("/api/v1/campaigns/")
    assert len(response.json()["results"]) == Campaign.objects.count()
