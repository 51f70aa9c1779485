"""POST /api/v1/interventions: what a partner shows a person who triggered one of its rules."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign, Message
from evaluation.models import Exposure
from interventions.links import link_target
from interventions.selectors import snapshot_clear
from organisations.models import ApiScope, Partnership
from tests.interventions import factories

URL = "/api/v1/interventions"


def context(**overrides):  # type: ignore[no-untyped-def]
    body = {"trigger": "search_blocked_term", "country": "GB", "language": "en-GB",
            "session_id": "session-abc", "platform": "web",
            "attributes": {"age_band": "18-24", "surface": "search"}}
    body.update(overrides)
    return body


@pytest.fixture
def w(db):  # type: ignore[no-untyped-def]
    return factories.world()


def ask(w, **overrides):  # type: ignore[no-untyped-def]
    return w.client().post(URL, context(**overrides), format="json")


def test_it_answers_with_the_message_help_and_law_and_records_the_exposure(w):
    response = ask(w)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["show"] is True and body["reason"] == "shown"
    assert body["message"]["title"] == "This search may be illegal"
    assert "is a crime" in body["message"]["text"]
    assert body["message"]["html"].startswith("<p>")
    assert body["message"]["language"] == "en"
    assert body["referral_code"] == w.campaign.referral_code
    exposure = Exposure.objects.get()
    assert str(exposure.pk) == body["intervention_id"]
    assert (exposure.source, exposure.channel, exposure.partner) == (
        "intervention", "on_platform", w.partner)
    assert (exposure.country, exposure.trigger, exposure.arm) == (
        "GB", "search_blocked_term", w.variant)
    assert exposure.segment == w.segment and exposure.message == w.message
    assert body["legal_notice"]["jurisdiction"] == "GB-ENG"
    assert body["legal_notice"]["statutes"][0]["name"] == "Protection of Children Act 1978"


def test_help_links_are_signed_links_to_the_exposure_and_directory_resource(w):
    body = ask(w).json()
    names = [r["name"] for r in body["help_resources"]]
    assert "Stop It Now! helpline" in names and "Troubled Desire" in names
    for resource in body["help_resources"]:
        assert resource["url"].startswith("http://testserver/go/")
        target = link_target(resource["url"].rsplit("/go/", 1)[1])
        assert str(target.exposure_id) == body["intervention_id"]
        assert target.resource_id == resource["id"]
    assert body["help_resources"][0]["name"] == "Stop It Now! helpline", "open lines first"
    # The message template's {{ help_link }} is the first signed link too.
    assert body["help_resources"][0]["url"] in body["message"]["text"]


def test_phone_numbers_are_given_only_while_the_line_is_open(w):
    resources = {r["name"]: r for r in ask(w).json()["help_resources"]}
    assert resources["Stop It Now! helpline"]["phone"] == "+448081000900"
    assert resources["Stop It Now! helpline"]["open_now"] is True
    unknown = resources["Example line (hours unknown)"]
    assert unknown["phone"] is None and unknown["open_now"] is None


def test_unconfirmed_help_resources_are_not_signposted(w):
    w.resources["always"].confirmed_at = None
    w.resources["always"].save()
    names = [r["name"] for r in ask(w).json()["help_resources"]]
    assert "Stop It Now! helpline" not in names


def test_it_rejects_a_trigger_outside_the_partners_vocabulary(w):
    response = ask(w, trigger="some_other_rule")
    assert response.status_code == 400
    assert "trigger" in response.json()
    assert not Exposure.objects.exists()


def test_the_vocabulary_is_the_union_of_the_partners_programmes(w):
    other = factories.OrganisationFactory(name="Second Programme")
    Partnership.objects.create(programme=other, partner=w.partner, triggers=["chat_flagged"])
    assert ask(w, trigger="chat_flagged").status_code == 200


@pytest.mark.parametrize(("field", "value"), [
    ("country", "ZZ"), ("country", "England"), ("country", ""),
    ("language", "xx"), ("language", "english"), ("language", "en-"),
])
def test_it_rejects_an_invalid_country_or_language_by_name(w, field, value):
    response = ask(w, **{field: value})
    assert response.status_code == 400
    assert field in response.json()
    assert not Exposure.objects.exists()


@pytest.mark.parametrize("attributes", [{"Bad-Name": "x"}, {"surface": {"nested": 1}},
                                        {f"a{i}": 1 for i in range(17)}])
def test_it_rejects_malformed_attributes(w, attributes):
    response = ask(w, attributes=attributes)
    assert response.status_code == 400
    assert "attributes" in response.json()


def test_it_says_plainly_when_nothing_matches(w):
    response = ask(w, country="DE")
    assert response.status_code == 200
    assert response.json() == {"show": False, "reason": "no_match", "intervention_id": None,
                               "referral_code": "", "message": None, "help_resources": [],
                               "legal_notice": None}
    assert not Exposure.objects.exists()


def test_a_paused_campaign_is_not_shown(w):
    Campaign.objects.filter(pk=w.campaign.pk).update(status="paused")
    snapshot_clear()
    assert ask(w).json()["reason"] == "no_match"


def test_a_holdout_assignment_is_recorded_and_shows_nothing(db):
    w = factories.world(variant_weight=0, holdout_weight=1)
    body = ask(w).json()
    assert body["show"] is False and body["reason"] == "holdout"
    assert body["message"] is None and body["help_resources"] == []
    exposure = Exposure.objects.get()
    assert str(exposure.pk) == body["intervention_id"]
    assert exposure.is_holdout and exposure.arm == w.holdout and exposure.message is None


def test_a_capped_person_gets_capped_and_no_new_exposure(w):
    assert ask(w).json()["show"] is True
    second = ask(w).json()
    assert second["show"] is False and second["reason"] == "capped"
    assert second["intervention_id"] is None
    assert Exposure.objects.count() == 1
    assert ask(w, session_id="someone-else").json()["show"] is True


def test_the_cap_counts_holdout_assignments_so_arms_stay_comparable(db):
    w = factories.world(variant_weight=0, holdout_weight=1)
    ask(w)
    assert ask(w).json()["reason"] == "capped"
    assert Exposure.objects.count() == 1


def test_a_cap_of_zero_means_no_cap(db):
    w = factories.world(frequency_cap_count=0)
    assert [ask(w).json()["show"] for _ in range(3)] == [True, True, True]


def test_the_highest_priority_matching_campaign_wins(w):
    urgent, *_ = factories.campaign_for(w.programme, w.partner, name="Urgent", priority=10)
    snapshot_clear()
    ask(w)
    assert Exposure.objects.get().campaign == urgent


def test_a_campaign_whose_segment_does_not_match_gives_way_to_the_next(w):
    factories.campaign_for(w.programme, w.partner, name="Uploads only", priority=10,
                           rule='trigger = "upload_blocked"')
    snapshot_clear()
    ask(w)
    assert Exposure.objects.get().campaign == w.campaign


def test_segment_rules_see_the_platform_and_custom_attributes(db):
    w = factories.world(rule='platform = "ios"')
    assert ask(w).json()["reason"] == "no_match"
    assert ask(w, platform="ios").json()["reason"] == "shown"


def test_the_message_language_falls_back_along_the_chain(w):
    assert ask(w, language="de-AT").json()["message"]["language"] == "en"
    german = Message.objects.create(
        organisation=w.programme, name="Warnung", channel="on_platform", language="de",
        framing="legal_deterrence", subject="Diese Suche kann strafbar sein",
        body="Hilfe ist vertraulich und anonym erreichbar.")
    w.variant.messages.add(german)
    snapshot_clear()
    body = ask(w, language="de-AT", session_id="second-person").json()
    assert body["message"]["language"] == "de"
    assert body["message"]["title"] == "Diese Suche kann strafbar sein"


def test_message_html_is_cleaned_to_an_allow_list(db):
    w = factories.world(body='<p onclick="x()">Help <script>alert(1)</script>'
                             '<a href="javascript:alert(1)">here</a></p>')
    html = ask(w).json()["message"]["html"]
    assert "script" not in html and "onclick" not in html and "javascript" not in html
    assert html.startswith("<p>Help")


def test_it_refuses_an_oversized_body_with_413(w):
    response = w.client().post(URL, context(platform="x" * 20_000), format="json")
    assert response.status_code == 413


def test_it_throttles_each_partner_separately(w, settings):
    settings.INTERVENTIONS_RATE_PER_PARTNER = "2/min"
    codes = [ask(w, session_id=f"s{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]
    other = factories.world()
    assert ask(other).status_code == 200


def test_anonymous_callers_get_401(w, anonymous_client):
    assert anonymous_client.post(URL, context(), format="json").status_code == 401


def test_a_key_without_the_interventions_scope_gets_403(w):
    secret = factories.partner_key(w.partner, ApiScope.OUTCOMES_WRITE)
    response = w.client(secret).post(URL, context(), format="json")
    assert response.status_code == 403


def test_a_partner_not_enrolled_in_the_campaign_gets_nothing(w):
    stranger = factories.partner_org("Unrelated Platform")
    Partnership.objects.create(programme=w.programme, partner=stranger, triggers=factories.TRIGGERS)
    response = w.client(factories.partner_key(stranger)).post(URL, context(), format="json")
    assert response.json()["reason"] == "no_match"


def test_the_warm_hot_path_uses_a_handful_of_queries(w, settings):
    settings.INTERVENTIONS_SNAPSHOT_SECONDS = 60
    ask(w, session_id="warm-up")
    with CaptureQueriesContext(connection) as queries:
        assert ask(w, session_id=str(uuid.uuid4())).json()["show"] is True
    # key lookup, cap count, exposure insert (+ savepoint/transaction statements).
    assert len(queries) <= 6, [q["sql"][:80] for q in queries]


def test_the_route_is_named(db):
    assert reverse("interventions:go", args=["x"]) == "/go/x"


def test_a_revoked_key_is_refused_once_its_remembered_authentication_lapses(w, monkeypatch):
    from interventions.api import authentication
    from organisations.models import ApiKey
    from organisations.services import Actor, api_key_revoke

    assert ask(w).status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(organisation=w.partner), actor=Actor.system())
    monkeypatch.setattr(authentication, "AUTH_CACHE_SECONDS", 0.0)
    authentication.authentication_cache_clear()
    assert ask(w, session_id="after-revocation").status_code == 401


def test_a_wrong_key_is_never_remembered(w):
    bad = w.secret[:-4] + ("AAAA" if not w.secret.endswith("AAAA") else "BBBB")
    assert w.client(bad).post(URL, context(), format="json").status_code == 401
    assert ask(w).status_code == 200
    assert w.client(bad).post(URL, context(), format="json").status_code == 401


def test_a_body_that_is_not_an_object_is_refused(w):
    response = w.client().post(URL, ["trigger"], format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("field", ["trigger", "country", "language", "session_id"])
def test_required_fields_are_named_when_missing(w, field):
    body = context()
    body.pop(field)
    response = w.client().post(URL, body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_the_partner_budget_is_shared_by_processes_and_never_exceeded(w, settings):
    from interventions.api import throttling

    settings.INTERVENTIONS_RATE_PER_PARTNER = "300/min"  # claimed 3 at a time
    allowed = 0
    for i in range(400):
        if i % 7 == 0:
            throttling.throttle_clear()  # another process: its unclaimed tokens are not ours
        allowed += throttling._take("throttle:test:window", limit=300, timeout=60)
    assert 0 < allowed <= 300


def test_each_answer_carries_its_own_signed_links_in_the_message(w):
    first = ask(w, session_id="one").json()
    second = ask(w, session_id="two").json()
    for body in (first, second):
        assert body["help_resources"][0]["url"] in body["message"]["text"]
        assert body["help_resources"][0]["url"] in body["message"]["html"]
        assert "placeholder" not in body["message"]["text"] + body["message"]["html"]
    assert first["message"]["text"] != second["message"]["text"]


def test_a_template_that_transforms_the_link_is_still_rendered_with_the_real_link(db):
    w = factories.world(body="Help: {{ help_link|upper }}")
    body = ask(w).json()
    assert body["help_resources"][0]["url"].upper() in body["message"]["text"]
    assert "PLACEHOLDER" not in body["message"]["text"]


@pytest.mark.parametrize("attributes", [None, [], "surface", 0])
def test_attributes_must_be_an_object_when_given(w, attributes):
    response = ask(w, attributes=attributes)
    assert response.status_code == 400 and "attributes" in response.json()


@pytest.mark.parametrize("field", ["trigger", "platform", "session_id"])
def test_fields_must_be_strings(w, field):
    response = ask(w, **{field: 12345})
    assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize(("body", "content_type", "problem"), [
    (b'{"trigger": "search_blocked_term",', "application/json", "Expecting property name"),
    (b'{"trigger": NaN}', "application/json", "'NaN'"),
    (b'{"trigger": "\xff"}', "application/json", "can't decode byte 0xff"),
    (b'{"trigger": "x"}', "application/json; charset=bz2_codec", 'Unsupported charset "bz2'),
])
def test_a_body_that_is_not_strict_json_text_is_a_400_naming_the_problem(w, body, content_type,
                                                                         problem):
    response = w.client().post(URL, body, content_type=content_type)
    assert response.status_code == 400, response.content
    assert problem in response.json()["detail"]
    assert not Exposure.objects.exists()


def test_a_throttle_counter_that_vanishes_mid_claim_never_makes_a_500(w, monkeypatch):
    # Django's incr checks the key exists, then increments: under load the key can vanish in
    # between (a full Redis evicting it); the request must still be answered.
    from interventions.api import throttling

    class Vanishing:
        def incr(self, key, delta=1):  # type: ignore[no-untyped-def]
            raise ValueError(f"Key '{key}' not found.")

        def add(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return False  # "exists" (another process added it), gone again by the incr

    throttling.throttle_clear()
    monkeypatch.setattr(throttling, "cache", Vanishing())
    assert ask(w).status_code == 200
