"""GET /go/<token>: count a help click once for its exposure, then go to the directory's URL."""

from __future__ import annotations

import uuid

import pytest

from evaluation.models import Outcome
from interventions.links import link_token
from tests.interventions import factories


@pytest.fixture
def shown(db):  # type: ignore[no-untyped-def]
    w = factories.world()
    body = w.client().post("/api/v1/interventions", {
        "trigger": "search_blocked_term", "country": "GB", "language": "en",
        "session_id": "person-1"}, format="json").json()
    links = {r["name"]: r for r in body["help_resources"]}
    return w, body, links


def path_of(url: str) -> str:
    return url.replace("http://testserver", "")


def test_a_click_is_recorded_for_the_exposure_and_redirects_to_the_directory_url(shown, client):
    w, body, links = shown
    response = client.get(path_of(links["Stop It Now! helpline"]["url"]))
    assert response.status_code == 302
    assert response["Location"] == "https://www.stopitnow.org.uk/helpline/"
    assert response["Referrer-Policy"] == "no-referrer"
    outcome = Outcome.objects.get()
    assert str(outcome.exposure_id) == body["intervention_id"]
    assert (outcome.kind, outcome.campaign, outcome.organisation) == (
        "help_click", w.campaign, w.programme)


def test_repeated_clicks_on_one_link_count_once(shown, client):
    _, _, links = shown
    for _ in range(3):
        assert client.get(path_of(links["Troubled Desire"]["url"])).status_code == 302
    assert Outcome.objects.count() == 1


def test_clicks_on_two_resources_of_one_warning_count_twice(shown, client):
    _, _, links = shown
    client.get(path_of(links["Troubled Desire"]["url"]))
    client.get(path_of(links["Stop It Now! helpline"]["url"]))
    assert Outcome.objects.count() == 2


@pytest.mark.parametrize("headers", [
    {"HTTP_SEC_PURPOSE": "prefetch"},
    {"HTTP_PURPOSE": "prefetch"},
    {"HTTP_USER_AGENT": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
    {"HTTP_USER_AGENT": "facebookexternalhit/1.1"},
    {"HTTP_USER_AGENT": "WhatsApp/2.23.20.0"},
    {"HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Googlebot/2.1)"},
])
def test_prefetches_and_link_preview_bots_are_redirected_but_not_counted(shown, client, headers):
    _, _, links = shown
    response = client.get(path_of(links["Troubled Desire"]["url"]), **headers)
    assert response.status_code == 302
    assert not Outcome.objects.exists()


def test_a_head_request_is_not_a_click(shown, client):
    _, _, links = shown
    assert client.head(path_of(links["Troubled Desire"]["url"])).status_code == 302
    assert not Outcome.objects.exists()


def test_a_tampered_token_gets_a_400_page_that_still_lists_help(shown, client):
    _, _, links = shown
    token = path_of(links["Stop It Now! helpline"]["url"]).removeprefix("/go/")
    response = client.get(f"/go/{token[:-3]}abc")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Confidential help is available" in page
    assert "https://troubled-desire.com/" in page  # worldwide services, by web address
    assert "+448081000900" not in page  # a phone number needs a known country
    assert not Outcome.objects.exists()


def test_a_token_naming_another_resource_cannot_be_forged(shown, client):
    _, body, _ = shown
    forged = link_token(exposure_id=uuid.UUID(body["intervention_id"]), resource_id=1)
    response = client.get(f"/go/{forged[:-1]}{'A' if forged[-1] != 'A' else 'B'}")
    assert response.status_code == 400


def test_an_expired_token_gets_a_400_page_with_the_warnings_help(shown, client, settings):
    _, _, links = shown
    settings.INTERVENTION_LINK_MAX_AGE_SECONDS = -1
    response = client.get(path_of(links["Troubled Desire"]["url"]))
    assert response.status_code == 400
    page = response.content.decode()
    assert "expired" in page
    assert "Stop It Now! helpline" in page and "+448081000900" in page  # open now
    assert not Outcome.objects.exists()


def test_a_resource_no_longer_confirmed_is_not_redirected_to(shown, client):
    w, _, links = shown
    resource = w.resources["always"]
    resource.confirmed_at = None
    resource.save()
    response = client.get(path_of(links["Stop It Now! helpline"]["url"]))
    assert response.status_code == 410
    assert not Outcome.objects.exists()


def test_a_link_to_another_programmes_resource_goes_nowhere(shown, client):
    _, body, _ = shown
    elsewhere = factories.world()
    token = link_token(exposure_id=uuid.UUID(body["intervention_id"]),
                       resource_id=elsewhere.resources["worldwide"].pk)
    response = client.get(f"/go/{token}")
    assert response.status_code == 410
    assert not Outcome.objects.exists()


def test_a_link_for_an_unknown_exposure_lists_help_without_counting(db, client):
    factories.world()
    token = link_token(exposure_id=uuid.uuid4(), resource_id=1)
    response = client.get(f"/go/{token}")
    assert response.status_code == 410
    assert not Outcome.objects.exists()


def test_only_get_and_head_are_allowed(shown, client):
    _, _, links = shown
    assert client.post(path_of(links["Troubled Desire"]["url"])).status_code == 405


def test_link_tokens_are_byte_identical_to_djangos_timestamp_signer(monkeypatch, settings):
    from django.core import signing

    from interventions import links

    settings.SECRET_KEY = "another-secret-key-for-this-test-0123456789abcdefghij"
    monkeypatch.setattr(signing.time, "time", lambda: 1_790_000_000.7)
    monkeypatch.setattr(links.time, "time", lambda: 1_790_000_000.7)
    exposure = uuid.UUID("0b6f2c1e-5d6a-4e8e-9a43-2f1c7d9e8b10")
    django_token = signing.TimestampSigner(salt=links.SALT).sign_object(
        {"e": exposure.hex, "r": 12})
    assert link_token(exposure_id=exposure, resource_id=12) == django_token
    assert links.link_target(django_token) == links.LinkTarget(exposure_id=exposure,
                                                               resource_id=12)


def test_a_resource_hosted_here_gets_a_signed_via_reference_naming_the_exposure(shown, client):
    from urllib.parse import parse_qs, urlsplit

    from interventions.links import BadLink, via_target

    w, body, links = shown
    w.resources["always"].url = "http://testserver/help/chat/demo/?lang=en"
    w.resources["always"].save(update_fields=["url"])
    response = client.get(path_of(links["Stop It Now! helpline"]["url"]))
    location = urlsplit(response["Location"])
    assert (location.netloc, location.path) == ("testserver", "/help/chat/demo/")
    query = parse_qs(location.query)
    assert query["lang"] == ["en"]
    target = via_target(query["via"][0])
    assert str(target.exposure_id) == body["intervention_id"]
    assert target.resource_id == w.resources["always"].pk
    with pytest.raises(BadLink):
        via_target(query["via"][0][:-2] + "xx")


def test_a_resource_elsewhere_never_sees_the_via_reference(shown, client):
    _, _, links = shown
    response = client.get(path_of(links["Stop It Now! helpline"]["url"]))
    assert "via=" not in response["Location"]
