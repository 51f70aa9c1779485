"""The partner endpoints need no browser state; the admin keeps all of it.

`outreach.browser_middleware` steps the signed-in user, two-factor state and messages aside on
the paths of views that accept only an API key. These tests prove that those endpoints need no
session and no CSRF token (a session cannot authenticate there, so CSRF has nothing to
protect), that the admin still gets sessions and CSRF, and that what protects the API still
applies on the short path.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import resolve
from rest_framework.authentication import SessionAuthentication

from evaluation.models import Exposure
from interventions.api.throttling import throttle_clear
from organisations.api.authentication import ApiKeyAuthentication
from outreach.browser_middleware import api_key_only_paths
from tests.factories import UserFactory
from tests.interventions import factories

URL = "/api/v1/interventions"
BODY = ('{"trigger": "search_blocked_term", "country": "GB", "language": "en-GB", '
        '"session_id": "s-1", "platform": "web"}')
PARTNER_PATHS = {"/api/v1/interventions", "/api/v1/outcomes", "/api/v1/outcomes/batch",
                 "/api/v1/outcomes/aggregates"}


@pytest.fixture
def w(db):  # type: ignore[no-untyped-def]
    return factories.world()


def browser(**kwargs) -> Client:  # type: ignore[no-untyped-def]
    return Client(enforce_csrf_checks=True, **kwargs)


def test_the_short_path_is_exactly_the_partner_endpoints():
    assert api_key_only_paths(settings.ROOT_URLCONF) == PARTNER_PATHS


def test_only_an_api_key_authenticates_on_those_paths():
    for path in PARTNER_PATHS:
        view_class = resolve(path).func.view_class
        assert view_class.authentication_classes == [ApiKeyAuthentication], path
        assert not any(isinstance(a, SessionAuthentication)
                       for a in view_class().get_authenticators()), path


def test_an_intervention_needs_no_session_and_no_csrf_token(w):
    client = browser(HTTP_AUTHORIZATION=f"Bearer {w.secret}")
    response = client.post(URL, BODY, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["show"] is True
    assert Exposure.objects.count() == 1
    # No browser state was made or sent back.
    request = response.wsgi_request
    assert not hasattr(request, "auser") and not hasattr(request, "_messages")  # no user, messages
    assert not request.session.accessed  # the lazy session was never even read
    assert "csrftoken" not in response.cookies and "sessionid" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")
    # What protects every response still applies.
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_signed_in_session_does_not_authenticate_there(w):
    admin = UserFactory(username="root-short-path", is_staff=True, is_superuser=True)
    client = browser()
    client.force_login(admin)
    response = client.post(URL, BODY, content_type="application/json")
    assert response.status_code == 401
    assert Exposure.objects.count() == 0


def test_the_api_checks_still_apply_on_the_short_path(w, settings):
    client = browser(HTTP_AUTHORIZATION=f"Bearer {w.secret}")
    assert browser().post(URL, BODY, content_type="application/json").status_code == 401
    assert client.post(URL, "{" + " " * 17_000 + "}",
                       content_type="application/json").status_code == 413
    outsider = factories.partner_key(factories.partner_org())
    refused = browser(HTTP_AUTHORIZATION=f"Bearer {outsider}").post(
        URL, BODY, content_type="application/json")
    assert refused.status_code == 400 and "trigger" in refused.json()  # not its vocabulary
    settings.INTERVENTIONS_RATE_PER_PARTNER = "1/min"
    throttle_clear()
    cache.clear()
    assert client.post(URL, BODY, content_type="application/json").status_code == 200
    assert client.post(URL, BODY, content_type="application/json").status_code == 429


def test_the_admin_still_has_sessions_and_csrf(db):
    client = browser()
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert "csrftoken" in page.cookies
    assert page.wsgi_request.user.is_anonymous and hasattr(page.wsgi_request, "_messages")
    UserFactory(username="admin-csrf", is_staff=True, is_superuser=True, password="x" * 16)
    forged = client.post("/admin/login/", {"username": "admin-csrf", "password": "x" * 16})
    assert forged.status_code == 403  # no CSRF token: refused
    token = page.cookies["csrftoken"].value
    signed_in = client.post("/admin/login/", {"username": "admin-csrf", "password": "x" * 16,
                                              "csrfmiddlewaretoken": token})
    assert signed_in.status_code == 302
    assert "sessionid" in signed_in.cookies


def test_a_near_miss_of_a_short_path_gets_the_full_stack(db):
    # A trailing slash is not the endpoint: it goes through every middleware.
    response = browser().post(URL + "/", BODY, content_type="application/json")
    assert hasattr(response.wsgi_request, "auser")
